#pragma once
// Plain value types exchanged between the HTTP transport and a RequestHandler.
// They carry no Beast or Asio types, so the dispatch layer needs only the
// standard library to use them.

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace xenrdp::xapi_rpc::transport {

/// Who is on the other end of a connection. Filled once per connection by the
/// transport; for Unix sockets `uid`/`pid` come from SO_PEERCRED and are set
/// whenever the kernel reported them (they are empty for TCP and TLS).
struct PeerInfo {
  enum class Kind { Tcp, Tls, Unix };
  Kind kind = Kind::Tcp;
  std::string address;  ///< "ip:port", "[ipv6]:port" or "unix"
  std::optional<uid_t> uid;
  std::optional<pid_t> pid;
};

/// Liveness of the connection a request came in on, shared between the
/// transport and the handler. Single io thread: every member is called on the
/// io executor only, so there is no locking.
class ConnectionStatus {
public:
  /// False once the peer closed or reset the connection (or the server closed
  /// it). A handler holding a long-poll may then drop the work; answering is
  /// still allowed and harmless.
  [[nodiscard]] bool alive() const noexcept { return alive_; }

  /// Runs `callback` once, on the io executor, when the connection is seen to
  /// close. If it is already closed the callback runs at once, inline, and 0
  /// is returned; otherwise an id for forget(). Callbacks must not throw (a
  /// throwing one is swallowed).
  std::uint64_t onClose(std::function<void()> callback);

  /// Drops the callback `id` (from onClose) unrun. A handler whose work ends
  /// before the connection does calls it, so that a kept-alive connection
  /// serving many long-polls does not pile up callbacks. Unknown ids and 0
  /// are ignored.
  void forget(std::uint64_t id) noexcept;

  /// Callbacks still waiting for the close.
  [[nodiscard]] std::size_t pending() const noexcept { return callbacks_.size(); }

  /// Transport only: marks the connection closed and runs the callbacks once.
  void markClosed() noexcept;

private:
  bool alive_ = true;
  std::uint64_t nextId_ = 1;
  std::vector<std::pair<std::uint64_t, std::function<void()>>> callbacks_;
};

/// One parsed HTTP request, owned by value by the handler.
struct HttpRequest {
  std::string method;  ///< as sent, e.g. "POST"
  std::string target;  ///< request-target, e.g. "/jsonrpc"
  unsigned version = 11;  ///< 10 for HTTP/1.0, 11 for HTTP/1.1
  std::vector<std::pair<std::string, std::string>> headers;  ///< in arrival order
  std::string body;
  bool keepAlive = true;  ///< what the client asked for (the transport decides at last)
  /// Never null for requests made by the transport.
  std::shared_ptr<ConnectionStatus> connection;

  /// Value of the first header named `name` (ASCII case-insensitive), if any.
  [[nodiscard]] std::optional<std::string_view> header(std::string_view name) const;
};

/// What a handler answers. The transport sends exactly these headers plus
/// Content-Length and, when needed, Connection; it never adds Content-Type.
/// Handler-supplied Content-Length, Transfer-Encoding and Connection headers are
/// replaced by the transport's own (a "Connection: close" from the handler is
/// honoured by closing after the response). Headers whose name or value holds
/// CR, LF or NUL are dropped.
struct HttpResponse {
  unsigned status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

/// ASCII case-insensitive equality, as HTTP field names need.
[[nodiscard]] bool equalsIgnoreCase(std::string_view a, std::string_view b) noexcept;

}  // namespace xenrdp::xapi_rpc::transport
