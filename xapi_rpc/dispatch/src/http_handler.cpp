#include <xapi_rpc/dispatch/http_handler.hpp>

#include <memory>
#include <string_view>
#include <utility>

#include <xapi_rpc/codec/json_rpc.hpp>
#include <xapi_rpc/codec/xml_rpc.hpp>

namespace xenrdp::xapi_rpc::dispatch {
namespace {

using transport::HttpRequest;
using transport::HttpResponse;

/// The path without query string.
std::string_view pathOf(std::string_view target)
{
    const auto q = target.find_first_of("?#");
    return q == std::string_view::npos ? target : target.substr(0, q);
}

/// True when the last path segment is "jsonrpc" ("/jsonrpc", "/x/jsonrpc").
bool isJsonPath(std::string_view path)
{
    while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
    const auto slash = path.rfind('/');
    const std::string_view last = slash == std::string_view::npos ? path : path.substr(slash + 1);
    return last == "jsonrpc";
}

HttpResponse makeResponse(unsigned status, const char* contentType, std::string body)
{
    HttpResponse r;
    r.status = status;
    r.headers.reserve(3);
    r.headers.emplace_back("Content-Type", contentType);
    r.headers.emplace_back("Access-Control-Allow-Origin", "*");
    r.headers.emplace_back("Access-Control-Allow-Headers", "X-Requested-With");
    r.body = std::move(body);
    return r;
}

CallContext contextOf(const transport::PeerInfo& peer, std::shared_ptr<transport::ConnectionStatus> connection)
{
    CallContext ctx;
    ctx.connection = std::move(connection);
    switch (peer.kind) {
    case transport::PeerInfo::Kind::Tcp: ctx.transport = CallContext::Transport::Tcp; break;
    case transport::PeerInfo::Kind::Tls: ctx.transport = CallContext::Transport::Tls; break;
    case transport::PeerInfo::Kind::Unix: ctx.transport = CallContext::Transport::Unix; break;
    }
    // Only a Unix socket's SO_PEERCRED uid means anything.
    if (peer.kind == transport::PeerInfo::Kind::Unix) ctx.peerUid = peer.uid;
    ctx.peerAddress = peer.address;
    return ctx;
}

}  // namespace

XapiHttpHandler::XapiHttpHandler(Dispatcher& dispatcher) : dispatcher_(dispatcher) {}

bool XapiHttpHandler::handles(const HttpRequest& req) { return req.method == "POST"; }

void XapiHttpHandler::handle(HttpRequest req, const transport::PeerInfo& peer, transport::Respond respond)
{
    if (req.method != "POST") {
        if (req.method == "GET" || req.method == "HEAD") {
            respond(makeResponse(404, "text/plain",
                                 "xenrdpd: XenAPI is served by POST, XML-RPC on / and JSON-RPC on /jsonrpc\n"));
        } else {
            HttpResponse r = makeResponse(405, "text/plain", "Method Not Allowed\n");
            r.headers.emplace_back("Allow", "POST");
            respond(std::move(r));
        }
        return;
    }

    if (isJsonPath(pathOf(req.target))) {
        auto parsed = json::parseRequest(req.body);
        if (!parsed) {
            respond(makeResponse(500, "application/json", json::serializeMalformedRequest(parsed.error())));
            return;
        }
        json::JsonRequest request = std::move(parsed).value();
        Call call = std::move(request.call);
        request.call = Call{};
        dispatcher_.call(std::move(call), contextOf(peer, req.connection),
                         [respond = std::move(respond), idJson = std::move(request.idJson),
                          version = request.version](Outcome outcome) {
                             try {
                                 respond(makeResponse(200, "application/json",
                                                      json::serializeResponse(outcome, idJson, version)));
                             } catch (...) {
                                 respond(makeResponse(500, "text/plain", "Internal error\n"));
                             }
                         });
        return;
    }

    auto parsed = xml::parseCall(req.body);
    if (!parsed) {
        respond(makeResponse(500, "text/plain", "Malformed XML-RPC request: " + parsed.error().message + "\n"));
        return;
    }
    Call call = std::move(parsed).value();
    // xapi answers system.listMethods bare, without the Status wrapper.
    const bool bare = call.method == "system.listMethods";
    dispatcher_.call(std::move(call), contextOf(peer, req.connection),
                     [respond = std::move(respond), bare](Outcome outcome) {
        try {
            std::string body = bare && outcome.success ? xml::serializeBare(outcome.result)
                                                       : xml::serializeResponse(outcome);
            respond(makeResponse(200, "text/xml", std::move(body)));
        } catch (...) {
            respond(makeResponse(500, "text/plain", "Internal error\n"));
        }
    });
}

}  // namespace xenrdp::xapi_rpc::dispatch
