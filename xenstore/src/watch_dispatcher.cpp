#include <xenstore/watch_dispatcher.hpp>

#include <xenstore/error.hpp>
#include <xenstore/xs_api.hpp>

#include <cerrno>
#include <cstdint>
#include <optional>
#include <unordered_map>

#include <boost/asio/post.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <spdlog/spdlog.h>

namespace xenrdp::xenstore {

namespace asio = boost::asio;

class WatchDispatcher::Impl : public std::enable_shared_from_this<WatchDispatcher::Impl> {
public:
    Impl(asio::any_io_executor io, LostHandler onLost, std::shared_ptr<spdlog::logger> logger)
        : io_(std::move(io)), onLost_(std::move(onLost)), logger_(std::move(logger))
    {
    }

    void add(std::string token, WatchHandler handler)
    {
        handlers_.insert_or_assign(std::move(token), std::move(handler));
    }

    bool remove(const std::string& token) { return handlers_.erase(token) > 0; }

    std::size_t size() const noexcept { return handlers_.size(); }
    void clear() noexcept { handlers_.clear(); }
    void setResolver(Resolver resolver) { resolver_ = std::move(resolver); }
    std::size_t dispatched() const noexcept { return dispatched_; }
    bool attached() const noexcept { return sd_.has_value(); }

    void attach(XsApi& api)
    {
        detach();
        errno = 0;
        const int fd = api.fileno();
        if (fd < 0) {
            reportLostLater(errnoCode(errno != 0 ? errno : EBADF));
            return;
        }
        boost::system::error_code ec;
        sd_.emplace(io_);
        sd_->assign(fd, ec);
        if (ec) {
            // Nothing was registered with the reactor: drop without closing.
            sd_->release();
            sd_.reset();
            reportLostLater(errnoCode(ec.value()));
            return;
        }
        api_ = &api;
        armWait();
    }

    void detach() noexcept
    {
        // Invalidate any completion already queued for the old wait.
        ++generation_;
        api_ = nullptr;
        if (sd_) {
            boost::system::error_code ignored;
            sd_->cancel(ignored);
            // libxenstore owns the fd: hand it back instead of closing it.
            sd_->release();
            sd_.reset();
        }
    }

private:
    // At most this many events per wake-up, so one flood cannot starve the
    // io thread.  The pipe keeps its byte while events remain, so the next
    // wait completes at once and draining resumes.
    static constexpr int kMaxBatch = 512;

    void armWait()
    {
        const std::uint64_t gen = generation_;
        sd_->async_wait(asio::posix::stream_descriptor::wait_read,
                        [weak = weak_from_this(), gen](const boost::system::error_code& ec) {
                            if (auto self = weak.lock())
                                self->onReadable(gen, ec);
                        });
    }

    void onReadable(std::uint64_t gen, const boost::system::error_code& ec)
    {
        if (gen != generation_ || !sd_ || ec == asio::error::operation_aborted)
            return;
        if (ec) {
            lost(errnoCode(ec.value()));
            return;
        }
        for (int n = 0; n < kMaxBatch; ++n) {
            errno = 0;
            auto ev = api_->checkWatch();
            if (!ev) {
                const int err = errno;
                if (err == EAGAIN) {
                    armWait();  // queue empty: re-arming cannot lose an event (§3.4)
                    return;
                }
                lost(errnoCode(err != 0 ? err : EINVAL));
                return;
            }
            dispatch(ev->second, ev->first);
            // A handler may have detached or re-attached us.
            if (gen != generation_)
                return;
        }
        armWait();
    }

    void dispatch(const std::string& token, const std::string& path)
    {
        const WatchHandler* found = nullptr;
        if (auto it = handlers_.find(token); it != handlers_.end())
            found = &it->second;
        else if (resolver_)
            found = resolver_(token);
        if (found == nullptr)
            return;  // removed while its event was queued, or not ours
        // A copy, which outlives the entry if the handler removes its own
        // watch.  (Copying beats keeping each handler in a shared_ptr: the
        // small handlers of the daemon copy without allocating, and at tens
        // of thousands of watches a separate allocation each costs memory.)
        const WatchHandler handler = *found;
        ++dispatched_;
        try {
            handler(std::string_view(path));
        } catch (const std::exception& e) {
            if (logger_)
                logger_->error("XS_WATCH_HANDLER_FAILED path={} err={}", path, e.what());
        } catch (...) {
            if (logger_)
                logger_->error("XS_WATCH_HANDLER_FAILED path={} err=unknown", path);
        }
    }

    void lost(std::error_code ec)
    {
        detach();
        if (onLost_)
            onLost_(ec);
    }

    void reportLostLater(std::error_code ec)
    {
        asio::post(io_, [weak = weak_from_this(), ec] {
            if (auto self = weak.lock(); self && self->onLost_)
                self->onLost_(ec);
        });
    }

    asio::any_io_executor io_;
    LostHandler onLost_;
    std::shared_ptr<spdlog::logger> logger_;
    std::unordered_map<std::string, WatchHandler> handlers_;
    Resolver resolver_;
    std::optional<asio::posix::stream_descriptor> sd_;
    XsApi* api_ = nullptr;
    std::uint64_t generation_ = 0;
    std::size_t dispatched_ = 0;
};

WatchDispatcher::WatchDispatcher(asio::any_io_executor io, LostHandler onLost,
                                 std::shared_ptr<spdlog::logger> logger)
    : impl_(std::make_shared<Impl>(std::move(io), std::move(onLost), std::move(logger)))
{
}

WatchDispatcher::~WatchDispatcher()
{
    impl_->detach();
}

void WatchDispatcher::add(std::string token, WatchHandler handler)
{
    impl_->add(std::move(token), std::move(handler));
}

bool WatchDispatcher::remove(const std::string& token)
{
    return impl_->remove(token);
}

std::size_t WatchDispatcher::size() const noexcept
{
    return impl_->size();
}

void WatchDispatcher::clear() noexcept
{
    impl_->clear();
}

void WatchDispatcher::setResolver(Resolver resolver)
{
    impl_->setResolver(std::move(resolver));
}

void WatchDispatcher::attach(XsApi& api)
{
    impl_->attach(api);
}

void WatchDispatcher::detach() noexcept
{
    impl_->detach();
}

bool WatchDispatcher::attached() const noexcept
{
    return impl_->attached();
}

std::size_t WatchDispatcher::dispatched() const noexcept
{
    return impl_->dispatched();
}

}  // namespace xenrdp::xenstore
