// Connection: the two libxenstore handles, the xenstore pool and the
// reconnect state machine.
//
// Thread ownership of the state below:
//  - io thread: state_, epoch_, watches_, pending_, listeners, timers and the
//    dispatcher (which only calls xs_check_watch).
//  - pool thread: request_, watchHandle_, poolEpoch_ (handles are opened,
//    used and closed only there, except after stop() has joined the pool).
// The dispatcher holds a reference to the watch handle's XsApi; the io thread
// always detaches it BEFORE it posts the job that closes that handle, so the
// reference never dangles.
#include <xenstore/connection.hpp>

#include <xenstore/client.hpp>
#include <xenstore/error.hpp>
#include <xenstore/xs_api.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <deque>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

namespace xenrdp::xenstore {

namespace asio = boost::asio;

class ConnectionImpl : public std::enable_shared_from_this<ConnectionImpl> {
public:
    ConnectionImpl(asio::any_io_executor io, ConnectionOptions options)
        : io_(std::move(io)), options_(std::move(options)), log_(options_.logger),
          livenessTimer_(io_), backoffTimer_(io_)
    {
        if (!log_)
            log_ = std::make_shared<spdlog::logger>(
                "xenstore", std::make_shared<spdlog::sinks::null_sink_mt>());
        if (!options_.openApi) {
            options_.openApi = [path = options_.socketPath](bool unwatchFilter) {
                return openRealXsApi(path, unwatchFilter);
            };
        }
        for (std::size_t i = 0; i < options_.readers; ++i)
            readers_.push_back(std::make_unique<Reader>());
    }

    /// Second construction step: the dispatcher needs a weak_ptr to us.
    void init()
    {
        dispatcher_.emplace(
            io_,
            [weak = weak_from_this()](std::error_code ec) {
                if (auto self = weak.lock())
                    self->onLost(self->epoch_, ec, "watch fd");
            },
            log_);
        // Handlers live in watches_, once each; the dispatcher finds them by
        // the id in the token.  The resolver runs on the io thread, inside
        // the dispatcher, which we own: `this` outlives it.
        dispatcher_->setResolver([this](std::string_view token) -> const WatchHandler* {
            const auto id = idOf(token);
            if (!id)
                return nullptr;
            auto it = watches_.find(*id);
            return it == watches_.end() ? nullptr : &it->second.handler;
        });
    }

    void start(std::function<void()> onConnected)
    {
        if (state_ != State::idle)
            return;
        onConnected_ = std::move(onConnected);
        state_ = State::connecting;
        attempt_ = 0;
        tryConnect();
    }

    void stop()
    {
        if (state_ == State::stopped)
            return;
        stopping_ = true;  // the pools skip whatever is still queued
        stopReaders();
        state_ = State::stopped;
        connected_ = false;
        livenessTimer_.cancel();
        backoffTimer_.cancel();
        dispatcher_->detach();
        dispatcher_->clear();
        watches_.clear();
        pending_.clear();
        listeners_.clear();
        onConnected_ = nullptr;
        // Waits for at most the request in flight; afterwards no pool thread
        // exists, so the handles may be closed here.
        pool_.join();
        request_ = Client();
        watchHandle_ = Client();
    }

    bool connected() const noexcept { return connected_; }
    std::uint64_t reconnectCount() const noexcept { return reconnects_; }

    void post(std::function<void(Client&)> job, std::function<void()> done)
    {
        if (state_ == State::stopped)
            return;
        if (state_ != State::connected) {
            pending_.emplace_back(std::move(job), std::move(done));
            return;
        }
        postJob(std::move(job), std::move(done));
    }

    std::size_t readerCount() const noexcept { return options_.readers; }

    void postRead(std::function<void(Client&)> job, std::function<void()> done)
    {
        if (readers_.empty() || state_ != State::connected) {
            post(std::move(job), std::move(done));
            return;
        }
        // The reader with the fewest jobs waiting: a slow job (a guest with
        // a large tree) does not hold up the others'.
        Reader* reader = readers_.front().get();
        for (const auto& candidate : readers_)
            if (candidate->queued.load() < reader->queued.load())
                reader = candidate.get();
        reader->queued.fetch_add(1);
        asio::post(reader->pool, [self = shared_from_this(), reader, epoch = epoch_,
                                  job = std::move(job), done = std::move(done)]() mutable {
            self->runOnReader(*reader, epoch, std::move(job), std::move(done));
        });
    }

    std::uint64_t watch(std::string path, WatchHandler handler)
    {
        if (state_ == State::stopped)
            return 0;
        const std::uint64_t id = ++nextId_;
        auto [it, inserted] = watches_.emplace(id, WatchEntry{std::move(path), std::move(handler)});
        // While connecting, the reconnect snapshot registers it.
        if (state_ == State::connected)
            postRegister(it->second.path, tokenOf(id));
        return id;
    }

    void unwatch(std::uint64_t id)
    {
        auto it = watches_.find(id);
        if (it == watches_.end())
            return;
        // Gone from watches_, the token resolves to nothing: no callback from
        // now on, even for an event already queued.
        const std::string token = tokenOf(id);
        std::string path = std::move(it->second.path);
        watches_.erase(it);
        if (state_ != State::connected)
            return;  // the next connection simply does not register it
        asio::post(pool_, [self = shared_from_this(), path = std::move(path), token, epoch = epoch_] {
            if (self->stopping_ || self->poolEpoch_ != epoch || !self->watchHandle_.hasHandle())
                return;
            errno = 0;
            if (self->watchHandle_.api().unwatch(path, token))
                return;
            const std::error_code ec = errnoCode(errno != 0 ? errno : EIO);
            if (isConnectionLoss(ec))
                self->reportLost(epoch, ec, "unwatch");
            else if (ec.value() != ENOENT)
                self->log_->warn("XS_UNWATCH_FAILED path={} err={}", path, ec.message());
        });
    }

    void addReconnectListener(std::function<void()> listener)
    {
        if (state_ != State::stopped && listener)
            listeners_.push_back(std::move(listener));
    }

private:
    enum class State { idle, connecting, connected, stopped };

    /// A live watch; its token is tokenOf() its id.
    struct WatchEntry {
        std::string path;
        WatchHandler handler;
    };

    static constexpr std::string_view kTokenPrefix = "xenrdp-";
    static std::string tokenOf(std::uint64_t id) { return std::string(kTokenPrefix) + std::to_string(id); }
    /// The id in a token of ours; nothing for any other token.
    static std::optional<std::uint64_t> idOf(std::string_view token)
    {
        if (token.substr(0, kTokenPrefix.size()) != kTokenPrefix)
            return std::nullopt;
        token.remove_prefix(kTokenPrefix.size());
        std::uint64_t id = 0;
        const auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), id);
        if (ec != std::errc() || end != token.data() + token.size() || token.empty())
            return std::nullopt;
        return id;
    }

    /// An extra request handle and its thread (postRead()).
    struct Reader {
        asio::thread_pool pool{1};
        std::atomic<std::size_t> queued{0};  ///< posted, not finished
        Client client;                       ///< reader thread only
        std::uint64_t epoch = 0;             ///< reader thread only: client's connection
    };

    /// Reader thread: runs `job` on the reader's handle, opened (again) for
    /// the connection `epoch` if it is not open for it yet.
    void runOnReader(Reader& reader, std::uint64_t epoch, std::function<void(Client&)> job,
                     std::function<void()> done)
    {
        if (stopping_) {
            reader.queued.fetch_sub(1);
            return;
        }
        if (reader.epoch != epoch || !reader.client.hasHandle() || reader.client.lost()) {
            reader.client = Client();
            errno = 0;
            std::unique_ptr<XsApi> api = options_.openApi(false);
            if (!api) {
                // Not now: the ordered pool runs it instead (and waits for
                // the reconnection if xenstored is gone).
                const std::error_code ec = errnoCode(errno != 0 ? errno : ECONNREFUSED);
                reader.queued.fetch_sub(1);
                asio::post(io_, [self = shared_from_this(), job = std::move(job),
                                 done = std::move(done), ec]() mutable {
                    if (self->state_ == State::stopped)
                        return;
                    self->log_->debug("XS_READER_OPEN_FAILED err={}", ec.message());
                    self->post(std::move(job), std::move(done));
                });
                return;
            }
            reader.client = Client(std::move(api));
            reader.epoch = epoch;
        }
        runJob(reader.client, epoch, "reader", job, std::move(done));
        reader.queued.fetch_sub(1);
    }

    /// Pool or reader thread: runs `job` on `client`, logging what it throws;
    /// then, on the io thread, starts the reconnection if `client` was found
    /// lost (for the connection `epoch`) and calls `done`.
    void runJob(Client& client, std::uint64_t epoch, const char* via,
                const std::function<void(Client&)>& job, std::function<void()> done)
    {
        try {
            job(client);
        } catch (const std::exception& e) {
            log_->error("XS_JOB_FAILED err={}", e.what());
        } catch (...) {
            log_->error("XS_JOB_FAILED err=unknown");
        }
        const bool lost = client.lost();
        // Why post: `done` belongs to the io thread, like all our state.
        asio::post(io_, [self = shared_from_this(), done = std::move(done), lost, epoch, via] {
            if (self->state_ == State::stopped)
                return;
            if (lost)
                self->onLost(epoch, XsErrc::notConnected, via);
            self->invoke(done, "post done");
        });
    }

    /// Io thread, from stop(), stopping_ already set: no reader job runs
    /// afterwards.
    void stopReaders()
    {
        for (const auto& reader : readers_)
            reader->pool.join();
        for (const auto& reader : readers_)
            reader->client = Client();
    }

    // ---- connecting (io thread unless noted) ----

    void tryConnect()
    {
        if (state_ != State::connecting)
            return;
        const int attempt = ++attempt_;
        // Why on the pool: xs_open connects to xenstored (blocking), and the
        // handles belong to the pool thread.
        asio::post(pool_, [self = shared_from_this(), attempt] { self->connectOnPool(attempt); });
    }

    /// Pool thread: closes the old handles, opens both new ones.
    void connectOnPool(int attempt)
    {
        if (stopping_)
            return;
        request_ = Client();
        watchHandle_ = Client();
        std::error_code ec;
        errno = 0;
        std::unique_ptr<XsApi> req = options_.openApi(false);
        std::unique_ptr<XsApi> wat;
        if (!req) {
            ec = errnoCode(errno != 0 ? errno : ECONNREFUSED);
        } else {
            errno = 0;
            wat = options_.openApi(true);
            if (!wat)
                ec = errnoCode(errno != 0 ? errno : ECONNREFUSED);
        }
        if (!ec) {
            request_ = Client(std::move(req));
            watchHandle_ = Client(std::move(wat));
            // xs_open may succeed on a socket nobody serves well: ask once.
            watchHandle_.ping(ec);
        }
        if (ec) {
            request_ = Client();
            watchHandle_ = Client();
            asio::post(io_, [self = shared_from_this(), attempt, ec] {
                self->onConnectFailed(attempt, ec);
            });
            return;
        }
        const std::uint64_t epoch = ++poolEpoch_;
        XsApi* api = &watchHandle_.api();
        asio::post(io_, [self = shared_from_this(), attempt, epoch, api] {
            self->onConnectSucceeded(attempt, epoch, *api);
        });
    }

    void onConnectFailed(int attempt, std::error_code ec)
    {
        if (state_ != State::connecting)
            return;
        const auto delay = backoff(attempt);
        if (attempt == 1 || attempt % 10 == 0)
            log_->warn("XS_CONNECT_FAILED attempt={} err={} retry_ms={}", attempt, ec.message(),
                       delay.count());
        else
            log_->debug("XS_CONNECT_FAILED attempt={} err={} retry_ms={}", attempt, ec.message(),
                        delay.count());
        backoffTimer_.expires_after(delay);
        backoffTimer_.async_wait([weak = weak_from_this()](const boost::system::error_code& tec) {
            if (tec == asio::error::operation_aborted)
                return;
            if (auto self = weak.lock())
                self->tryConnect();
        });
    }

    std::chrono::milliseconds backoff(int attempt) const
    {
        auto delay = std::max(options_.backoffInitial, std::chrono::milliseconds(1));
        for (int i = 1; i < attempt && delay < options_.backoffMax; ++i)
            delay *= 2;
        return std::min(delay, options_.backoffMax);
    }

    void onConnectSucceeded(int attempt, std::uint64_t epoch, XsApi& watchApi)
    {
        if (state_ != State::connecting)
            return;  // stopped meanwhile; stop() closes the handles
        epoch_ = epoch;
        state_ = State::connected;
        connected_ = true;
        dispatcher_->attach(watchApi);

        // Snapshot of the live watches, registered in one pool job.  A watch
        // added from now on is registered by its own job queued after this
        // one; one removed from now on is unwatched after it (FIFO pool).
        std::vector<std::pair<std::string, std::string>> all;
        all.reserve(watches_.size());
        for (const auto& [id, entry] : watches_)
            all.emplace_back(entry.path, tokenOf(id));
        asio::post(pool_, [self = shared_from_this(), all = std::move(all), epoch, attempt] {
            if (self->stopping_)
                return;
            std::error_code lost;
            for (const auto& [path, token] : all) {
                std::error_code ec;
                self->registerOnPool(path, token, ec);
                if (ec && isConnectionLoss(ec)) {
                    lost = ec;
                    break;
                }
            }
            asio::post(self->io_, [self, epoch, attempt, count = all.size(), lost] {
                self->onRegistered(epoch, attempt, count, lost);
            });
        });

        while (!pending_.empty()) {
            auto [job, done] = std::move(pending_.front());
            pending_.pop_front();
            postJob(std::move(job), std::move(done));
        }
        armLiveness();
    }

    void onRegistered(std::uint64_t epoch, int attempt, std::size_t count, std::error_code lost)
    {
        if (state_ == State::stopped || epoch != epoch_)
            return;
        if (lost) {
            onLost(epoch, lost, "watch registration");
            return;
        }
        if (!everConnected_) {
            everConnected_ = true;
            log_->info("XS_CONNECTED attempt={} watches={}", attempt, count);
            auto cb = std::move(onConnected_);
            onConnected_ = nullptr;
            invoke(cb, "onConnected");
            return;
        }
        ++reconnects_;
        log_->info("XS_RECONNECTED attempt={} watches={}", attempt, count);
        // Copy: a listener may add listeners.
        auto listeners = listeners_;
        for (auto& l : listeners) {
            if (state_ == State::stopped)
                return;
            invoke(l, "onReconnected");
        }
    }

    /// Pool thread: xs_watch for one entry.  EEXIST (already registered on
    /// this handle) is success.
    void registerOnPool(const std::string& path, const std::string& token, std::error_code& ec)
    {
        if (!watchHandle_.hasHandle()) {
            ec = XsErrc::notConnected;
            return;
        }
        errno = 0;
        if (watchHandle_.api().watch(path, token))
            return;
        ec = errnoCode(errno != 0 ? errno : EIO);
        if (ec.value() == EEXIST) {
            ec.clear();
            return;
        }
        if (!isConnectionLoss(ec))
            log_->warn("XS_WATCH_FAILED path={} err={}", path, ec.message());
    }

    void postRegister(const std::string& path, const std::string& token)
    {
        asio::post(pool_, [self = shared_from_this(), path, token, epoch = epoch_] {
            // A newer connection registers it from its snapshot instead.
            if (self->stopping_ || self->poolEpoch_ != epoch)
                return;
            std::error_code ec;
            self->registerOnPool(path, token, ec);
            if (ec && isConnectionLoss(ec))
                self->reportLost(epoch, ec, "watch");
        });
    }

    // ---- jobs ----

    void postJob(std::function<void(Client&)> job, std::function<void()> done)
    {
        asio::post(pool_, [self = shared_from_this(), job = std::move(job),
                           done = std::move(done)]() mutable {
            if (self->stopping_)
                return;
            self->runJob(self->request_, self->poolEpoch_, "request", job, std::move(done));
        });
    }

    // ---- liveness and loss ----

    void armLiveness()
    {
        livenessTimer_.expires_after(options_.livenessInterval);
        livenessTimer_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
            if (ec == asio::error::operation_aborted)
                return;
            if (auto self = weak.lock())
                self->onLivenessTick();
        });
    }

    void onLivenessTick()
    {
        if (state_ != State::connected)
            return;  // re-armed by the next successful connect
        if (!probeInFlight_) {
            probeInFlight_ = true;
            // A dead xenstored never wakes the watch fd: ask it something
            // cheap on the watch handle, on the pool (requests block).
            asio::post(pool_, [self = shared_from_this(), epoch = epoch_] {
                if (self->stopping_)
                    return;
                std::error_code ec;
                if (self->poolEpoch_ == epoch)
                    self->watchHandle_.ping(ec);
                asio::post(self->io_, [self, epoch, ec] {
                    self->probeInFlight_ = false;
                    if (ec)
                        self->onLost(epoch, ec, "liveness probe");
                });
            });
        }
        armLiveness();
    }

    /// Pool thread: hands a loss over to the io thread.
    void reportLost(std::uint64_t epoch, std::error_code ec, const char* what)
    {
        asio::post(io_, [self = shared_from_this(), epoch, ec, what] {
            self->onLost(epoch, ec, what);
        });
    }

    void onLost(std::uint64_t epoch, std::error_code ec, const char* what)
    {
        // Only the current connection can be lost, and only once.
        if (state_ != State::connected || epoch != epoch_)
            return;
        log_->warn("XS_CONNECTION_LOST via={} err={}", what, ec.message());
        state_ = State::connecting;
        connected_ = false;
        livenessTimer_.cancel();
        // Detach before the pool closes the watch handle (see the top).
        dispatcher_->detach();
        attempt_ = 0;
        tryConnect();
    }

    void invoke(const std::function<void()>& fn, const char* what) noexcept
    {
        if (!fn)
            return;
        try {
            fn();
        } catch (const std::exception& e) {
            log_->error("XS_CALLBACK_FAILED callback={} err={}", what, e.what());
        } catch (...) {
            log_->error("XS_CALLBACK_FAILED callback={} err=unknown", what);
        }
    }

    // io thread
    asio::any_io_executor io_;
    ConnectionOptions options_;
    std::shared_ptr<spdlog::logger> log_;
    asio::steady_timer livenessTimer_;
    asio::steady_timer backoffTimer_;
    std::optional<WatchDispatcher> dispatcher_;
    State state_ = State::idle;
    std::uint64_t epoch_ = 0;
    int attempt_ = 0;
    bool everConnected_ = false;
    bool probeInFlight_ = false;
    std::function<void()> onConnected_;
    std::vector<std::function<void()>> listeners_;
    std::unordered_map<std::uint64_t, WatchEntry> watches_;
    std::uint64_t nextId_ = 0;
    std::deque<std::pair<std::function<void(Client&)>, std::function<void()>>> pending_;
    std::atomic<bool> connected_{false};
    std::atomic<std::uint64_t> reconnects_{0};
    std::atomic<bool> stopping_{false};

    // Their threads are joined by stop(); each Reader is touched by its own
    // thread and, for `queued`, by the io thread.
    std::vector<std::unique_ptr<Reader>> readers_;

    // pool thread
    Client request_;
    Client watchHandle_;
    std::uint64_t poolEpoch_ = 0;

    // Last: destroyed first (already joined by stop()).
    asio::thread_pool pool_{1};

    friend class Connection;
};

// ---- Watch ----

Watch::Watch(std::weak_ptr<ConnectionImpl> owner, std::uint64_t id) noexcept
    : owner_(std::move(owner)), id_(id)
{
}

Watch::Watch(Watch&& other) noexcept
    : owner_(std::move(other.owner_)), id_(std::exchange(other.id_, 0))
{
}

Watch& Watch::operator=(Watch&& other) noexcept
{
    if (this != &other) {
        reset();
        owner_ = std::move(other.owner_);
        id_ = std::exchange(other.id_, 0);
    }
    return *this;
}

Watch::~Watch()
{
    reset();
}

void Watch::reset() noexcept
{
    const std::uint64_t id = std::exchange(id_, 0);
    if (id == 0)
        return;
    if (auto owner = owner_.lock()) {
        try {
            owner->unwatch(id);
        } catch (...) {
            // Only allocation can fail here; the token is already gone from
            // the dispatcher in every case that matters.
        }
    }
    owner_.reset();
}

// ---- Connection ----

Connection::Connection(asio::any_io_executor io, ConnectionOptions options)
    : impl_(std::make_shared<ConnectionImpl>(std::move(io), std::move(options)))
{
    impl_->init();
}

Connection::~Connection()
{
    impl_->stop();
}

void Connection::start(std::function<void()> onConnected)
{
    impl_->start(std::move(onConnected));
}

void Connection::stop()
{
    impl_->stop();
}

bool Connection::connected() const noexcept
{
    return impl_->connected();
}

std::uint64_t Connection::reconnectCount() const noexcept
{
    return impl_->reconnectCount();
}

void Connection::post(std::function<void(Client&)> job, std::function<void()> done)
{
    impl_->post(std::move(job), std::move(done));
}

void Connection::postRead(std::function<void(Client&)> job, std::function<void()> done)
{
    impl_->postRead(std::move(job), std::move(done));
}

std::size_t Connection::readers() const noexcept
{
    return impl_->readerCount();
}

Watch Connection::watch(std::string path, WatchHandler handler)
{
    const std::uint64_t id = impl_->watch(std::move(path), std::move(handler));
    if (id == 0)
        return Watch();
    return Watch(impl_, id);
}

void Connection::onReconnected(std::function<void()> listener)
{
    impl_->addReconnectListener(std::move(listener));
}

}  // namespace xenrdp::xenstore
