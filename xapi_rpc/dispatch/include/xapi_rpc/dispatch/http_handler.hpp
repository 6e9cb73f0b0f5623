#pragma once
/// XapiHttpHandler: XenAPI over HTTP, as xapi serves it (reference
/// xapi-rdp-and-wire.md §7.1-7.3, xenapi-clients.md §1).
#include <xapi_rpc/dispatch/dispatcher.hpp>
#include <xapi_rpc/transport/request_handler.hpp>

namespace xenrdp::xapi_rpc::dispatch {

/// Routes:
///  - POST to a path whose last segment is "jsonrpc" ("/jsonrpc", and
///    "/x/jsonrpc" as npm builds it relative to its URL): JSON-RPC v1 or v2,
///    per request; answered "application/json".
///  - POST to any other path ("/", "/RPC2", "/xmlrpc", ...): XML-RPC,
///    answered "text/xml", compact. system.listMethods is answered bare
///    (no Status wrapper), as xapi does.
///  - API errors are HTTP 200 with a XenAPI failure. Every answer carries
///    Access-Control-Allow-Origin: * and Access-Control-Allow-Headers:
///    X-Requested-With, like xapi.
///  - A body that does not parse: HTTP 500 (xapi), JSON-RPC with the codec's
///    MALFORMED_METHOD_REQUEST error object, XML-RPC with a short text/plain
///    reason.
///  - GET/HEAD: 404 with a one-line text/plain page; other methods 405.
/// handles() says which requests are XenAPI's, so a daemon router can mount
/// other routes (console, /metrics) on the same listeners and fall back here.
///
/// Threading: io executor only (as the transport calls it). Ownership: holds
/// a reference to the Dispatcher, which must outlive it. Never throws out of
/// handle(); a failure while answering becomes a 500.
class XapiHttpHandler final : public transport::RequestHandler {
public:
    explicit XapiHttpHandler(Dispatcher& dispatcher);

    /// True for every POST (XenAPI claims all POST paths, as xapi's
    /// longest-prefix router does with "/").
    static bool handles(const transport::HttpRequest& req);

    void handle(transport::HttpRequest req, const transport::PeerInfo& peer,
                transport::Respond respond) override;

private:
    Dispatcher& dispatcher_;
};

}  // namespace xenrdp::xapi_rpc::dispatch
