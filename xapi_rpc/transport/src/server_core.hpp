#pragma once
// Private: state shared by an HttpServer, its listeners and its sessions.

#include <xapi_rpc/transport/http_server.hpp>

#include <boost/asio/steady_timer.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace xenrdp::xapi_rpc::transport {

/// A connection as the server sees it (the Session template erases its stream).
class SessionBase {
public:
  virtual ~SessionBase() = default;
  /// Server is stopping: close now if idle, else after the current response.
  virtual void beginStop() = 0;
  /// Close the socket at once; a pending response becomes a no-op.
  virtual void closeNow() = 0;
  /// Sends the response to request number `seq` (stale numbers are ignored).
  virtual void deliver(std::uint64_t seq, HttpResponse response) = 0;
  [[nodiscard]] virtual boost::asio::any_io_executor executor() = 0;
};

/// An accepting socket; closing it ends its accept loop.
class ListenerBase {
public:
  virtual ~ListenerBase() = default;
  virtual void close() = 0;
};

/// Owned by HttpServer through a shared_ptr; sessions hold it too, so it lives
/// until the last session is gone. Listeners only hold a weak_ptr.
/// Single io thread, no locking.
class ServerCore : public std::enable_shared_from_this<ServerCore> {
public:
  ServerCore(boost::asio::any_io_executor executor, RequestHandler& handler,
             ServerLimits limits, std::shared_ptr<spdlog::logger> logger);

  [[nodiscard]] const boost::asio::any_io_executor& executor() const { return executor_; }
  [[nodiscard]] RequestHandler& handler() const { return handler_; }
  [[nodiscard]] const ServerLimits& limits() const { return limits_; }
  void setLimits(const ServerLimits& limits) { limits_ = limits; }
  /// Null when logging is off.
  [[nodiscard]] spdlog::logger* log() const { return logger_.get(); }
  [[nodiscard]] bool stopping() const { return stopping_; }
  ServerCounters& counters() { return counters_; }
  void setResponseObserver(std::function<void(std::size_t)> observer) { responseObserver_ = std::move(observer); }
  /// A handler's response of `bodyBytes` is about to be written.
  void noteResponse(std::size_t bodyBytes) {
    if (responseObserver_) responseObserver_(bodyBytes);
  }

  void addListener(std::shared_ptr<ListenerBase> listener);
  void addUnixPath(std::string path) { unixPaths_.push_back(std::move(path)); }

  enum class Admission { Serve, Refuse, Drop };
  /// Counts a new connection and decides: serve it, answer it 503 (over
  /// maxConnections) or drop it at once (stopping, or too many refusals).
  Admission admit();
  /// Registers a started session; returns its id.
  std::uint64_t registerSession(const std::shared_ptr<SessionBase>& session, bool admitted);
  /// Called once when a session's socket closes.
  void unregisterSession(std::uint64_t id, bool admitted);

  void stop(std::chrono::milliseconds drainBound, std::function<void()> onDrained);
  /// Closes everything at once (server destruction); onDrained never runs.
  void shutdown();

private:
  void closeAll();
  void closeListeners();
  void checkDrained();

  boost::asio::any_io_executor executor_;
  RequestHandler& handler_;
  ServerLimits limits_;
  std::shared_ptr<spdlog::logger> logger_;
  ServerCounters counters_;
  std::size_t rejecting_ = 0;
  bool stopping_ = false;
  std::uint64_t nextId_ = 1;
  std::unordered_map<std::uint64_t, std::weak_ptr<SessionBase>> sessions_;
  std::vector<std::shared_ptr<ListenerBase>> listeners_;
  std::vector<std::string> unixPaths_;
  boost::asio::steady_timer drainTimer_;
  std::function<void()> onDrained_;
  std::function<void(std::size_t)> responseObserver_;
};

}  // namespace xenrdp::xapi_rpc::transport
