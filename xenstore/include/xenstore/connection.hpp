#pragma once
/// Connection: xenstore for an Asio program.
///
/// Owns two libxenstore handles: a request handle used only on a private
/// one-thread pool (the "xenstore executor": every request blocks), and a
/// watch handle (XS_UNWATCH_FILTER) whose pipe fd is waited on from the io
/// executor by the WatchDispatcher.  Only xs_check_watch runs on the io
/// thread.
///
/// Loss of xenstored is detected by failing requests and by a periodic cheap
/// read (a dead handle never wakes the watch fd).  On loss both handles are
/// reopened with exponential backoff, every live watch is registered again,
/// and the reconnect listeners run so the owner can resync its state.
///
/// Threading: construct, call and destroy on the io executor.  Handlers and
/// completions are always invoked on the io executor.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>

#include <boost/asio/any_io_executor.hpp>

namespace xenrdp::xenstore {

class Client;
class ConnectionImpl;

struct ConnectionOptions {
    /// Socket of xenstored; empty means libxenstore's default ($XENSTORED_PATH,
    /// else the system socket).
    std::string socketPath;
    /// How often the liveness probe reads a node when nothing else failed.
    std::chrono::milliseconds livenessInterval{500};
    std::chrono::milliseconds backoffInitial{50};
    std::chrono::milliseconds backoffMax{2000};
};

/// Called on the io executor with the path that fired.  One event means
/// "something at or below the watched path may have changed": re-read.
using WatchHandler = std::function<void(std::string_view path)>;

/// Move-only guard for one registered watch; destroying it unregisters the
/// token and issues xs_unwatch (on the xenstore executor).
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
    Connection(boost::asio::any_io_executor io, ConnectionOptions options);
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;
    ~Connection();

    /// Opens both handles (retrying with backoff until it succeeds or stop()).
    /// `onConnected` runs once, on the io executor, when the first connection is up.
    void start(std::function<void()> onConnected);
    /// Cancels timers and waits, drops all watches, closes both handles.
    void stop();
    bool connected() const noexcept;
    /// Number of successful reconnections after the first connect.
    std::uint64_t reconnectCount() const noexcept;

    /// Runs `job` on the xenstore executor with the request Client, then
    /// `done` on the io executor.  If the job reports an error that means the
    /// connection is lost, reconnection starts.  Jobs run in FIFO order.
    void post(std::function<void(Client&)> job, std::function<void()> done = {});

    /// Registers a watch on `path` with a fresh unique token.  The handler
    /// fires once soon after registration (xenstored's rule) and after every
    /// change; it survives reconnections.
    [[nodiscard]] Watch watch(std::string path, WatchHandler handler);

    /// Listeners run on the io executor after a reconnection once every watch
    /// is registered again.  The owner re-reads everything it caches.
    void onReconnected(std::function<void()> listener);

private:
    std::shared_ptr<ConnectionImpl> impl_;
};

}  // namespace xenrdp::xenstore
