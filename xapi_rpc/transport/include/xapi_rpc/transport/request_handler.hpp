#pragma once
// The one seam between the HTTP transport and whatever serves requests
// (XenAPI dispatch in xenrdpd). The transport never names a method or a path.

#include <xapi_rpc/transport/http_message.hpp>

#include <functional>

namespace xenrdp::xapi_rpc::transport {

/// Completes one request. Copyable; all copies share one slot, so only the
/// first call sends anything and later calls are no-ops. Calling it after the
/// connection died is a no-op too. Call it on the io executor only. If every
/// copy is destroyed without a call, the transport answers 500 itself.
using Respond = std::function<void(HttpResponse)>;

/// Serves the requests of every connection of an HttpServer.
/// Ownership: the server holds a reference; the handler must outlive it.
class RequestHandler {
public:
  virtual ~RequestHandler() = default;

  /// Called on the io executor, once per request; the connection reads no
  /// further request until `respond` has been called, but other connections go
  /// on meanwhile. Must not block. May answer later (a long-poll), and may
  /// watch `req.connection` to learn that the client went away. An exception
  /// thrown from here is caught and turned into a 500 response.
  virtual void handle(HttpRequest req, const PeerInfo& peer, Respond respond) = 0;
};

}  // namespace xenrdp::xapi_rpc::transport
