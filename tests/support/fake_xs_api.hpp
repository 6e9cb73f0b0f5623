#pragma once
/// FakeXsApi: an in-memory XsApi for unit tests (no Xen, no xenstored).
///
/// Several FakeXsApi "handles" share one FakeXsStore (the daemon's state):
/// a node map, registered watches, and knobs to inject failures.  Each handle
/// has a real pipe() as fileno() and a queue of watch events, keeping exactly
/// one byte in the pipe while the queue is non-empty, as libxenstore does
/// (STYLE.md Appendix §3.2), so the Asio wait path of the code under test
/// runs for real.  Thread-safe: the Connection uses handles from its pool
/// thread and the io thread at once.
///
/// A "kill" makes every existing handle dead for good (requests fail with
/// EPIPE, checkWatch with EINVAL, like a libxenstore handle whose socket
/// closed) and makes opening fail with ECONNREFUSED until "restart".
#include <xenstore/xs_api.hpp>

#include <atomic>
#include <cerrno>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

namespace xenrdp::test {

class FakeXsApi;

/// State shared by all fake handles ("xenstored").
class FakeXsStore : public std::enable_shared_from_this<FakeXsStore> {
public:
    // ---- knobs (any thread) ----
    /// The next request on any handle fails with this errno (0: none).
    void failNextRequest(int err)
    {
        std::lock_guard lock(mutex_);
        failNext_ = err;
    }
    /// The next `n` transaction commits fail with EAGAIN.
    void conflictCommits(int n)
    {
        std::lock_guard lock(mutex_);
        conflicts_ = n;
    }
    /// Kills "xenstored": existing handles die, opens are refused.
    void kill()
    {
        std::lock_guard lock(mutex_);
        ++generation_;
        down_ = true;
        watches_.clear();
    }
    /// Starts "xenstored" again (the nodes are kept).
    void restart()
    {
        std::lock_guard lock(mutex_);
        down_ = false;
    }
    /// While set, opening a handle fails with EMFILE; handles already open
    /// keep working (a process out of file descriptors).
    void refuseOpens(bool refuse)
    {
        std::lock_guard lock(mutex_);
        refuseOpens_ = refuse;
    }
    /// Fires every watch on `path` (e.g. "@releaseDomain").
    void fire(const std::string& path);

    int transactionsStarted() const
    {
        std::lock_guard lock(mutex_);
        return txnStarted_;
    }
    int opens() const { return opens_; }
    std::size_t watchCount() const
    {
        std::lock_guard lock(mutex_);
        return watches_.size();
    }

    /// Opens a handle; nullptr with errno = ECONNREFUSED while killed.
    std::unique_ptr<FakeXsApi> open();

private:
    friend class FakeXsApi;

    struct WatchReg {
        FakeXsApi* api;
        std::string path;
        std::string token;
    };

    /// Caller holds mutex_.  Returns false (errno set) if the request fails.
    bool admit(std::uint64_t generation)
    {
        if (generation != generation_) {
            errno = EPIPE;
            return false;
        }
        if (failNext_ != 0) {
            errno = std::exchange(failNext_, 0);
            return false;
        }
        return true;
    }

    static bool covers(const std::string& watched, const std::string& changed)
    {
        if (changed.compare(0, watched.size(), watched) != 0)
            return false;
        return changed.size() == watched.size() || watched == "/" ||
               changed[watched.size()] == '/';
    }

    void changed(const std::string& path);  // caller holds mutex_

    mutable std::mutex mutex_;
    std::map<std::string, std::string> nodes_{{"/", ""}};
    std::vector<WatchReg> watches_;
    std::uint64_t generation_ = 1;
    bool down_ = false;
    bool refuseOpens_ = false;
    int failNext_ = 0;
    int conflicts_ = 0;
    int txnStarted_ = 0;
    std::uint32_t nextTxn_ = 1;
    std::atomic<int> opens_{0};
};

class FakeXsApi final : public xenstore::XsApi {
public:
    FakeXsApi(std::shared_ptr<FakeXsStore> store, std::uint64_t generation)
        : store_(std::move(store)), generation_(generation)
    {
        if (::pipe2(pipe_, O_CLOEXEC) != 0)
            throw std::runtime_error("pipe2 failed");
    }

    ~FakeXsApi() override
    {
        {
            std::lock_guard lock(store_->mutex_);
            auto& w = store_->watches_;
            std::erase_if(w, [self = this](const FakeXsStore::WatchReg& r) { return r.api == self; });
        }
        ::close(pipe_[0]);
        ::close(pipe_[1]);
    }

    FakeXsApi(const FakeXsApi&) = delete;
    FakeXsApi& operator=(const FakeXsApi&) = delete;

    // ---- test helpers ----
    /// Queues one event, as libxenstore's reader thread does.
    void pushEvent(const std::string& path, const std::string& token)
    {
        std::lock_guard lock(eventMutex_);
        events_.emplace_back(path, token);
        if (events_.size() == 1) {
            char byte = 'w';
            [[maybe_unused]] auto n = ::write(pipe_[1], &byte, 1);
        }
    }
    /// Bytes currently in the pipe (0 or 1 while the invariant holds).
    int pipeBytes() const
    {
        int n = 0;
        ::ioctl(pipe_[0], FIONREAD, &n);
        return n;
    }
    std::size_t queuedEvents() const
    {
        std::lock_guard lock(eventMutex_);
        return events_.size();
    }
    int checkWatchCalls() const { return checkWatchCalls_; }

    // ---- XsApi ----
    std::optional<std::string> read(std::uint32_t, const std::string& path) override
    {
        std::lock_guard lock(store_->mutex_);
        if (!store_->admit(generation_))
            return std::nullopt;
        auto it = store_->nodes_.find(path);
        if (it == store_->nodes_.end()) {
            errno = ENOENT;
            return std::nullopt;
        }
        return it->second;
    }

    bool write(std::uint32_t, const std::string& path, std::string_view value) override
    {
        std::lock_guard lock(store_->mutex_);
        if (!store_->admit(generation_))
            return false;
        if (path.empty() || path[0] != '/') {
            errno = EINVAL;
            return false;
        }
        // Like xenstored: missing parents are created empty.
        for (auto pos = path.find('/', 1); pos != std::string::npos; pos = path.find('/', pos + 1))
            store_->nodes_.try_emplace(path.substr(0, pos), "");
        store_->nodes_[path] = std::string(value);
        store_->changed(path);
        return true;
    }

    bool remove(std::uint32_t, const std::string& path) override
    {
        std::lock_guard lock(store_->mutex_);
        if (!store_->admit(generation_))
            return false;
        auto& nodes = store_->nodes_;
        if (nodes.find(path) == nodes.end()) {
            errno = ENOENT;
            return false;
        }
        std::erase_if(nodes, [&path](const auto& kv) { return FakeXsStore::covers(path, kv.first); });
        store_->changed(path);
        return true;
    }

    bool mkdir(std::uint32_t txn, const std::string& path) override
    {
        {
            std::lock_guard lock(store_->mutex_);
            if (store_->nodes_.count(path) != 0)
                return true;
        }
        return write(txn, path, "");
    }

    std::optional<std::vector<std::string>> directory(std::uint32_t,
                                                      const std::string& path) override
    {
        std::lock_guard lock(store_->mutex_);
        if (!store_->admit(generation_))
            return std::nullopt;
        auto& nodes = store_->nodes_;
        if (nodes.find(path) == nodes.end()) {
            errno = ENOENT;
            return std::nullopt;
        }
        const std::string prefix = path == "/" ? "/" : path + "/";
        std::vector<std::string> out;
        for (auto it = nodes.lower_bound(prefix); it != nodes.end(); ++it) {
            if (it->first.compare(0, prefix.size(), prefix) != 0)
                break;
            std::string rest = it->first.substr(prefix.size());
            if (!rest.empty() && rest.find('/') == std::string::npos)
                out.push_back(rest);
        }
        return out;
    }

    bool setPermissions(std::uint32_t, const std::string& path,
                        const std::vector<std::string>&) override
    {
        std::lock_guard lock(store_->mutex_);
        if (!store_->admit(generation_))
            return false;
        if (store_->nodes_.count(path) == 0) {
            errno = ENOENT;
            return false;
        }
        return true;
    }

    std::uint32_t transactionStart() override
    {
        std::lock_guard lock(store_->mutex_);
        if (!store_->admit(generation_))
            return 0;
        ++store_->txnStarted_;
        return store_->nextTxn_++;
    }

    bool transactionEnd(std::uint32_t, bool abort) override
    {
        std::lock_guard lock(store_->mutex_);
        if (!store_->admit(generation_))
            return false;
        if (!abort && store_->conflicts_ > 0) {
            --store_->conflicts_;
            errno = EAGAIN;
            return false;
        }
        return true;
    }

    bool watch(const std::string& path, const std::string& token) override
    {
        std::lock_guard lock(store_->mutex_);
        if (!store_->admit(generation_))
            return false;
        store_->watches_.push_back({this, path, token});
        pushEvent(path, token);  // xenstored fires every new watch once
        return true;
    }

    bool unwatch(const std::string& path, const std::string& token) override
    {
        std::lock_guard lock(store_->mutex_);
        if (!store_->admit(generation_))
            return false;
        auto& w = store_->watches_;
        auto n = std::erase_if(w, [&](const FakeXsStore::WatchReg& r) {
            return r.api == this && r.path == path && r.token == token;
        });
        if (n == 0) {
            errno = ENOENT;
            return false;
        }
        return true;
    }

    int fileno() override { return pipe_[0]; }

    std::optional<std::pair<std::string, std::string>> checkWatch() override
    {
        ++checkWatchCalls_;
        {
            std::lock_guard slock(store_->mutex_);
            if (generation_ != store_->generation_) {
                errno = EINVAL;  // what libxenstore says on a dead handle
                return std::nullopt;
            }
        }
        std::lock_guard lock(eventMutex_);
        if (events_.empty()) {
            errno = EAGAIN;
            return std::nullopt;
        }
        auto ev = std::move(events_.front());
        events_.pop_front();
        if (events_.empty()) {
            // Take the byte back, as xs_maybe_clear_watch_pipe does.
            char byte = 0;
            while (::read(pipe_[0], &byte, 1) != 1) {
            }
        }
        return ev;
    }

    bool introduceDomain(std::uint32_t, unsigned long, unsigned int) override
    {
        {
            std::lock_guard lock(store_->mutex_);
            if (!store_->admit(generation_))
                return false;
        }
        store_->fire("@introduceDomain");
        return true;
    }

    bool releaseDomain(std::uint32_t) override
    {
        {
            std::lock_guard lock(store_->mutex_);
            if (!store_->admit(generation_))
                return false;
        }
        store_->fire("@releaseDomain");
        return true;
    }

    std::optional<bool> isDomainIntroduced(std::uint32_t) override
    {
        // The fake keeps no domain table: every domain counts as introduced.
        std::lock_guard lock(store_->mutex_);
        if (!store_->admit(generation_))
            return std::nullopt;
        return true;
    }

private:
    std::shared_ptr<FakeXsStore> store_;
    std::uint64_t generation_;
    int pipe_[2] = {-1, -1};
    mutable std::mutex eventMutex_;
    std::deque<std::pair<std::string, std::string>> events_;
    std::atomic<int> checkWatchCalls_{0};
};

inline void FakeXsStore::changed(const std::string& path)
{
    for (auto& w : watches_)
        if (covers(w.path, path))
            w.api->pushEvent(path, w.token);
}

inline void FakeXsStore::fire(const std::string& path)
{
    std::lock_guard lock(mutex_);
    for (auto& w : watches_)
        if (w.path == path)
            w.api->pushEvent(path, w.token);
}

inline std::unique_ptr<FakeXsApi> FakeXsStore::open()
{
    std::lock_guard lock(mutex_);
    if (down_) {
        errno = ECONNREFUSED;
        return nullptr;
    }
    if (refuseOpens_) {
        errno = EMFILE;
        return nullptr;
    }
    ++opens_;
    return std::make_unique<FakeXsApi>(shared_from_this(), generation_);
}

}  // namespace xenrdp::test
