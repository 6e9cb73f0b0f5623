#pragma once
/// Connection: xenstore for an Asio program.
///
/// Owns two libxenstore handles: a request handle used only on a private
/// one-thread pool (the "xenstore executor": every request blocks), and a
/// watch handle (XS_UNWATCH_FILTER) whose pipe fd is waited on from the io
/// executor by a WatchDispatcher; plus, optionally, reader handles with a
/// thread each for postRead() jobs.  Only xs_check_watch runs on the io
/// thread; xs_watch / xs_unwatch and the liveness probe run on the pool.
///
/// Loss of xenstored is detected by failing requests (isConnectionLoss()),
/// by xs_check_watch failing, and by a periodic cheap read on the watch
/// handle (a dead handle never wakes the watch fd).  On loss it logs
/// "XS_CONNECTION_LOST", reopens both handles with exponential backoff,
/// registers every live watch again (each fires once more: handlers re-read),
/// logs "XS_RECONNECTED attempt=N watches=M" and runs the onReconnected
/// listeners so the owner can resync its state.
///
/// Jobs posted while disconnected (before the first connect, or after a loss
/// was noticed) wait, in order, and run after the connection is back.  A job
/// already on the pool when xenstored dies runs against the dead handle and
/// sees errors for which isConnectionLoss() is true.
///
/// Threading: construct, call and destroy on the io executor (a single
/// thread).  Handlers, listeners and completions are always invoked on it.
/// Destruction stops: it joins the pool (waiting for a request in flight),
/// and no handler or completion runs afterwards.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>

#include <boost/asio/any_io_executor.hpp>

#include <xenstore/watch_dispatcher.hpp>

namespace spdlog {
class logger;
}

namespace xenrdp::xenstore {

class Client;
class ConnectionImpl;
class XsApi;

struct ConnectionOptions {
    /// Socket of xenstored; empty means libxenstore's default ($XENSTORED_PATH,
    /// else the system socket).  Non-empty, it must already be in
    /// $XENSTORED_PATH (useXenstoreSocket, before threads start): opening fails
    /// with EINVAL otherwise.
    std::string socketPath;
    /// How often the liveness probe reads "/" on the watch handle.
    std::chrono::milliseconds livenessInterval{500};
    /// Delay before the 2nd connection attempt; doubles up to backoffMax.
    /// The first attempt after a loss is immediate.
    std::chrono::milliseconds backoffInitial{50};
    /// The cap bounds how long a xenstored that is back waits for us: at
    /// most backoffMax, plus the connect and re-registration, well inside
    /// the 2 s promised for re-armed watches.  An attempt while xenstored is
    /// down is a connect() on a local socket that fails at once, so two per
    /// second cost nothing worth saving by waiting longer.
    std::chrono::milliseconds backoffMax{500};
    /// Extra request handles, each with a thread of its own, that run
    /// postRead() jobs side by side.  xenstored answers one request per
    /// connection per pass of its main loop, and a pass visits every
    /// introduced domain, so with hundreds of domains several connections
    /// multiply the request rate (docs/PERFORMANCE.md).  0: postRead() is
    /// post().
    std::size_t readers = 0;
    /// Log destination ("xenstore" module logger); null means no logging.
    std::shared_ptr<spdlog::logger> logger;
    /// Opens one handle (called on the xenstore pool).  Must return nullptr
    /// with errno set on failure.  Empty: openRealXsApi(socketPath, ...).
    /// Unit tests plug a FakeXsApi in here.
    std::function<std::unique_ptr<XsApi>(bool unwatchFilter)> openApi;
};

/// Move-only guard for one registered watch; destroying it (or reset())
/// unregisters the token at once (no callback afterwards) and issues
/// xs_unwatch on the xenstore executor.  Use on the io executor only.  It may
/// outlive its Connection (then it does nothing).
class Watch {
public:
    Watch() = default;
    Watch(std::weak_ptr<ConnectionImpl> owner, std::uint64_t id) noexcept;
    Watch(Watch&& other) noexcept;
    Watch& operator=(Watch&& other) noexcept;
    Watch(const Watch&) = delete;
    Watch& operator=(const Watch&) = delete;
    ~Watch();
    void reset() noexcept;
    bool active() const noexcept { return id_ != 0; }

private:
    std::weak_ptr<ConnectionImpl> owner_;
    std::uint64_t id_ = 0;
};

class Connection {
public:
    /// Does not connect yet (see start()).  Starts the xenstore pool thread.
    Connection(boost::asio::any_io_executor io, ConnectionOptions options);
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;
    /// Calls stop().
    ~Connection();

    /// Opens both handles (retrying with backoff until it succeeds or stop()).
    /// `onConnected` runs once, on the io executor, when the first connection
    /// is up and the watches registered before it are armed.  Call once.
    void start(std::function<void()> onConnected = {});
    /// Cancels timers and the watch wait, drops watches and listeners, skips
    /// jobs still queued (their `done` is not called), joins the pool and
    /// closes both handles (xenstored then drops our watches).  Blocks for at
    /// most one request in flight.  Idempotent.
    void stop();
    bool connected() const noexcept;
    /// Number of successful reconnections after the first connect.
    std::uint64_t reconnectCount() const noexcept;

    /// Runs `job` on the xenstore executor with the request Client, then
    /// `done` (if any) on the io executor.  Jobs run one at a time in FIFO
    /// order.  An exception from `job` is logged ("XS_JOB_FAILED") and `done`
    /// still runs.  If the Client reports lost() after the job, reconnection
    /// starts.  After stop(), does nothing.
    void post(std::function<void(Client&)> job, std::function<void()> done = {});

    /// Like post(), but `job` may run on any of the `readers` extra handles,
    /// beside other jobs and in no set order with them: for independent
    /// reads (use post() where order matters).  `done` runs on the io
    /// executor.  Falls back to post() when there are no readers, while
    /// disconnected, or when a reader cannot open its handle.  A reader
    /// whose handle is lost starts the reconnection, as post() does.
    void postRead(std::function<void(Client&)> job, std::function<void()> done = {});
    /// The reader handles postRead() spreads jobs over (ConnectionOptions).
    [[nodiscard]] std::size_t readers() const noexcept;

    /// Registers a watch on `path` (a node or "@introduceDomain" /
    /// "@releaseDomain") with a fresh unique token.  The handler fires once
    /// soon after registration (xenstored's rule), after every change at or
    /// below `path`, possibly spuriously, and once more after every
    /// reconnection; it should re-read.  Registration failures other than a
    /// lost connection are logged ("XS_WATCH_FAILED") and the watch stays
    /// silent.  Cost: O(1) per registration and per event.
    [[nodiscard]] Watch watch(std::string path, WatchHandler handler);

    /// Listeners run on the io executor after a reconnection once every watch
    /// is registered again.  The owner re-reads everything it caches.
    void onReconnected(std::function<void()> listener);

private:
    std::shared_ptr<ConnectionImpl> impl_;
};

}  // namespace xenrdp::xenstore
