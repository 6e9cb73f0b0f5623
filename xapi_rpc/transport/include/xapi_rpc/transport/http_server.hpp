#pragma once
// HTTP/1.1 server on TCP, TLS and Unix stream sockets (Boost.Beast inside;
// only Asio's executor shows in this header).

#include <xapi_rpc/transport/request_handler.hpp>

#include <boost/asio/any_io_executor.hpp>

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <system_error>

namespace spdlog {
class logger;
}

namespace xenrdp::xapi_rpc::transport {

/// Per-connection limits, applied to every listener of a server.
struct ServerLimits {
  std::size_t maxBodyBytes = 1024 * 1024;  ///< larger bodies are answered 413
  std::uint32_t maxHeaderBytes = 8 * 1024;  ///< larger headers are answered 431
  /// Bound on reading one request once its first byte arrived (also the TLS
  /// handshake, the first request of a connection and writing a response).
  std::chrono::milliseconds readTimeout{30'000};
  /// Bound on waiting for the next request on a kept-alive connection.
  std::chrono::milliseconds idleTimeout{300'000};
  /// Bound on the polite close (TLS close_notify, draining unread input).
  std::chrono::milliseconds lingerTimeout{2'000};
  /// Connections beyond this get one "503 Service Unavailable" and are closed.
  std::size_t maxConnections = 1024;
};

/// Counters for metrics; read on the io executor.
struct ServerCounters {
  std::size_t openConnections = 0;    ///< sessions currently holding a socket
  std::uint64_t acceptedTotal = 0;    ///< connections accepted (admitted or not)
  std::uint64_t rejectedTotal = 0;    ///< connections refused by maxConnections
  std::uint64_t requestsTotal = 0;    ///< requests passed to the handler
};

/// The bound address of a listener: the port (TCP/TLS) or path (Unix).
struct BoundEndpoint {
  std::string address;  ///< "127.0.0.1", "::1" or the socket path
  std::uint16_t port = 0;  ///< actual port (0 for Unix sockets)
};

class ServerCore;

/// Loads a PEM certificate chain and private key into a server TLS context
/// exactly as HttpServer::listenTls does, and checks that the key belongs to
/// the certificate, without listening: for configuration checks.  Any
/// thread; blocking file reads.  Returns the OpenSSL error, or none.
[[nodiscard]] std::error_code checkTlsFiles(const std::string& certFile, const std::string& keyFile);

/// Accepts connections on any number of listeners and feeds each request to a
/// RequestHandler, one request at a time per connection (HTTP/1.1 keep-alive,
/// HTTP/1.0, Expect: 100-continue). Malformed HTTP gets 400 and a close.
///
/// Threading: single io thread. Construct, call every member and run the
/// executor's io_context on one thread; nothing is locked. Nothing here
/// blocks, except listenTls reading its PEM files and listenUnix touching the
/// file system (call those at startup).
/// Ownership: holds `handler` by reference (it must outlive the server and
/// every response still pending). Destruction closes listeners and every
/// connection at once.
class HttpServer {
public:
  HttpServer(boost::asio::any_io_executor executor, RequestHandler& handler,
             ServerLimits limits = {}, std::shared_ptr<spdlog::logger> logger = nullptr);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  /// Listens on plain TCP `host:port` (port 0 picks an ephemeral port). On
  /// failure sets `ec` and listens on nothing new.
  BoundEndpoint listenTcp(const std::string& host, std::uint16_t port, std::error_code& ec);

  /// Listens on TLS (1.2 and later, ECDHE with AEAD ciphers, no compression,
  /// no renegotiation) with a PEM certificate chain and key.
  BoundEndpoint listenTls(const std::string& host, std::uint16_t port,
                          const std::string& certFile, const std::string& keyFile,
                          std::error_code& ec);

  /// Listens on a Unix stream socket at `path`. A stale socket file there is
  /// removed first (any other kind of file is an error); the socket gets file
  /// mode `mode` before it accepts anything. Each connection's PeerInfo
  /// carries the peer's uid and pid (SO_PEERCRED). The file is removed on
  /// stop() and destruction.
  BoundEndpoint listenUnix(const std::string& path, mode_t mode, std::error_code& ec);

  /// Stops accepting, closes idle connections at once and lets requests in
  /// progress be answered (with "Connection: close") for at most `drainBound`;
  /// then closes what is left. `onDrained`, if given, runs on the executor once
  /// no connection is open. A second call does nothing.
  void stop(std::chrono::milliseconds drainBound = std::chrono::seconds(5),
            std::function<void()> onDrained = {});

  [[nodiscard]] ServerCounters counters() const noexcept;

  /// New limits (SIGHUP).  Each applies from its next check on: the
  /// connection cap at the next accept, body and header sizes from the next
  /// request, timeouts from the next wait; nothing in progress is cut off.
  void setLimits(const ServerLimits& limits);

  /// Calls `observer` with the body size of every response a handler gives,
  /// as it is handed to the connection (the daemon's heap trimmer watches
  /// for large ones). Replaces any earlier observer; empty removes it.
  void setResponseObserver(std::function<void(std::size_t bodyBytes)> observer);

private:
  std::shared_ptr<ServerCore> core_;
};

}  // namespace xenrdp::xapi_rpc::transport
