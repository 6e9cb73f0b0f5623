#include <xapi_rpc/console/nova_console_handler.hpp>

#include <array>
#include <optional>
#include <set>
#include <utility>

#include <spdlog/spdlog.h>

#include <xapi_rpc/auth/role.hpp>
#include <xapi_rpc/console/guest_address.hpp>
#include <xapi_rpc/console/nova_body.hpp>
#include <xapi_rpc/console/nova_route.hpp>
#include <xapi_rpc/transport/log_text.hpp>

namespace xenrdp::xapi_rpc::console {

using transport::HttpRequest;
using transport::HttpResponse;

struct NovaConsoleHandler::Pending {
    HttpRequest req;
    NovaRoute route;
    WireFormat format;
    std::string peer;
    transport::Respond respond;
};

struct NovaConsoleHandler::Identity {
    std::string user;
    auth::Role role;
};

namespace {

constexpr std::string_view kConsoleType = "rdp-html5";

HttpResponse answer(unsigned status, WireFormat format, std::string body)
{
    HttpResponse r;
    r.status = status;
    r.headers.emplace_back("Content-Type", std::string(contentTypeOf(format)));
    r.body = std::move(body);
    return r;
}

HttpResponse fault(WireFormat format, unsigned status, std::string_view message)
{
    HttpResponse r = answer(status, format, renderFault(format, status, message));
    if (status == 401) r.headers.emplace_back("WWW-Authenticate", "Basic realm=\"xenrdpd\"");
    return r;
}

/// Strict RFC 4648 base64 (padding required); nullopt on anything else.
std::optional<std::string> decodeBase64(std::string_view in)
{
    auto value = [](char c) -> int {
        if (c >= 'A' && c <= 'Z') return c - 'A';
        if (c >= 'a' && c <= 'z') return c - 'a' + 26;
        if (c >= '0' && c <= '9') return c - '0' + 52;
        if (c == '+') return 62;
        if (c == '/') return 63;
        return -1;
    };
    if (in.empty() || in.size() % 4 != 0) return std::nullopt;
    std::string out;
    for (std::size_t i = 0; i < in.size(); i += 4) {
        std::array<int, 4> v{};
        int pad = 0;
        for (std::size_t j = 0; j < 4; ++j) {
            const char c = in[i + j];
            if (c == '=' && i + 4 == in.size() && j >= 2) {
                ++pad;
                v[j] = 0;
                continue;
            }
            if (pad != 0) return std::nullopt;
            v[j] = value(c);
            if (v[j] < 0) return std::nullopt;
        }
        const auto n = static_cast<unsigned>((v[0] << 18) | (v[1] << 12) | (v[2] << 6) | v[3]);
        out.push_back(static_cast<char>((n >> 16) & 0xff));
        if (pad < 2) out.push_back(static_cast<char>((n >> 8) & 0xff));
        if (pad < 1) out.push_back(static_cast<char>(n & 0xff));
    }
    return out;
}

/// user and password from "Basic <base64(user:pass)>" (scheme any case).
std::optional<std::pair<std::string, std::string>> basicCredentials(std::string_view header)
{
    while (!header.empty() && header.front() == ' ') header.remove_prefix(1);
    if (header.size() < 6 || !transport::equalsIgnoreCase(header.substr(0, 6), "Basic ")) return std::nullopt;
    header.remove_prefix(6);
    while (!header.empty() && header.front() == ' ') header.remove_prefix(1);
    while (!header.empty() && header.back() == ' ') header.remove_suffix(1);
    auto decoded = decodeBase64(header);
    if (!decoded) return std::nullopt;
    const auto colon = decoded->find(':');
    if (colon == std::string::npos || colon == 0) return std::nullopt;
    std::pair<std::string, std::string> out{decoded->substr(0, colon), decoded->substr(colon + 1)};
    std::fill(decoded->begin(), decoded->end(), '\0');
    return out;
}

std::string hashPrefix(std::string_view token) { return ConsoleTokenStore::hashToken(token).substr(0, 8); }

/// Client text quoted in a message, cut short so a huge value is not echoed.
std::string clip(const std::string& text) { return text.size() <= 64 ? text : text.substr(0, 64) + "..."; }

/// The only allowed members are `allowed`; all of `required` must be there.
std::optional<std::string> checkMembers(const ActionBody& body, const std::set<std::string>& allowed,
                                        const std::set<std::string>& required)
{
    if (body.null)
        return "Invalid input for field/attribute " + body.name + ". Value: None. None is not of type 'object'";
    for (const auto& [key, value] : body.fields)
        if (allowed.count(key) == 0)
            return "Invalid input for field/attribute " + body.name +
                   ". Additional properties are not allowed ('" + clip(key) + "' was unexpected)";
    for (const auto& key : required)
        if (body.fields.count(key) == 0)
            return "Invalid input for field/attribute " + body.name + ". '" + key + "' is a required property";
    return std::nullopt;
}

std::string notOneOf(const std::string& field, const std::string& rawValue, const char* allowed)
{
    const std::string value = clip(rawValue);
    return "Invalid input for field/attribute " + field + ". Value: " + value + ". '" + value +
           "' is not one of " + allowed;
}

}  // namespace

NovaConsoleHandler::NovaConsoleHandler(boost::asio::any_io_executor io, const metrics::ObjectStore& store,
                                       auth::Authenticator& authenticator, const auth::LoginThrottle& throttle,
                                       dispatch::SessionManager& sessions, ConsoleTokenStore& tokens,
                                       NovaConsoleOptions options, std::shared_ptr<spdlog::logger> logger)
    : io_(std::move(io)), store_(store), authenticator_(authenticator), throttle_(throttle),
      sessions_(sessions), tokens_(tokens), options_(std::move(options)), log_(std::move(logger))
{
}

NovaConsoleHandler::~NovaConsoleHandler() { *alive_ = false; }

bool NovaConsoleHandler::accepts(const HttpRequest& req) { return inConsoleSpace(req.target); }

void NovaConsoleHandler::handle(HttpRequest req, const transport::PeerInfo& peer, transport::Respond respond)
{
    // A body sent without a Content-Type counts as XML when it looks like XML.
    std::optional<std::string_view> contentType = req.header("Content-Type");
    const auto first = req.body.find_first_not_of(" \t\r\n");
    if (!contentType && first != std::string::npos && req.body[first] == '<') contentType = "application/xml";
    const WireFormat format = responseFormat(req.header("Accept"), contentType);
    try {
        auto route = matchRoute(req.target);
        if (!route) {
            respond(fault(format, 404, "The resource could not be found."));
            return;
        }
        const std::string& m = req.method;
        const bool getOrPost = m == "GET" || m == "POST";
        bool allowed = false;
        const char* allow = "GET, POST";
        switch (route->kind) {
        case RouteKind::ServerAction:
        case RouteKind::TokenAction: allowed = getOrPost; break;
        case RouteKind::RemoteConsoles:
            allowed = m == "POST";
            allow = "POST";
            break;
        case RouteKind::TokenGet:
            allowed = m == "GET";
            allow = "GET";
            break;
        }
        if (!allowed) {
            HttpResponse r = fault(format, 405, "The method specified is not allowed for this resource.");
            r.headers.emplace_back("Allow", allow);
            respond(std::move(r));
            return;
        }
        auto pending = std::make_shared<Pending>(
            Pending{std::move(req), std::move(*route), format, peer.address, std::move(respond)});
        authenticate(pending);
    } catch (const std::exception& e) {
        if (log_) log_->error("CONSOLE_INTERNAL_ERROR error={}",
                                  transport::logText(e.what(), transport::kLogMessageMaxBytes));
        respond(fault(format, 500, "Unexpected API Error."));
    }
}

void NovaConsoleHandler::authenticate(const std::shared_ptr<Pending>& pending)
{
    const HttpRequest& req = pending->req;
    if (auto sessionRef = req.header("X-Auth-Token")) {
        const dispatch::Session* session = sessions_.use(std::string(*sessionRef));
        if (session == nullptr) {
            if (log_) log_->warn("CONSOLE_AUTH_FAILED peer={} method=session", pending->peer);
            pending->respond(fault(pending->format, 401, "Authentication required"));
            return;
        }
        proceed(*pending, Identity{session->user, session->role});
        return;
    }
    auto authorization = req.header("Authorization");
    auto credentials = authorization ? basicCredentials(*authorization) : std::nullopt;
    if (!credentials) {
        if (authorization && log_) log_->warn("CONSOLE_AUTH_FAILED peer={} method=malformed", pending->peer);
        pending->respond(fault(pending->format, 401, "Authentication required"));
        return;
    }
    std::string user = credentials->first;
    std::weak_ptr<bool> alive = alive_;
    // Failures come back only after the throttle's delay, as XenAPI logins do.
    authenticator_.authenticate(
        std::move(credentials->first), std::move(credentials->second),
        throttle_.wrap([self = this, alive, pending, user](auth::AuthResult result) {
            if (alive.expired()) return;
            try {
                if (!result.ok) {
                    if (self->log_)
                        self->log_->warn("CONSOLE_AUTH_FAILED peer={} method=basic user={}", pending->peer,
                                         transport::logText(user));
                    pending->respond(fault(pending->format, 401, "Authentication required"));
                    return;
                }
                self->proceed(*pending, Identity{user, result.role});
            } catch (const std::exception& e) {
                if (self->log_) self->log_->error("CONSOLE_INTERNAL_ERROR error={}",
                                  transport::logText(e.what(), transport::kLogMessageMaxBytes));
                pending->respond(fault(pending->format, 500, "Unexpected API Error."));
            }
        }));
}

void NovaConsoleHandler::proceed(Pending& pending, const Identity& who)
{
    const NovaRoute& route = pending.route;
    const bool v3 = route.flavor == ApiFlavor::V3;
    const std::string& body = pending.req.body;
    auto bad = [&pending](const std::string& message) { pending.respond(fault(pending.format, 400, message)); };

    if (route.kind == RouteKind::TokenGet) {
        resolveToken(pending, who);
        return;
    }
    const bool emptyBody = body.find_first_not_of(" \t\r\n") == std::string::npos;
    if (route.kind == RouteKind::TokenAction && emptyBody && pending.req.method == "GET") {
        resolveToken(pending, who);  // the 2014 API documents a GET on the action
        return;
    }
    ParsedBody parsed = parseActionBody(body, pending.req.header("Content-Type"));
    if (auto* error = std::get_if<BodyError>(&parsed)) {
        bad(error->message);
        return;
    }
    const ActionBody& action = std::get<ActionBody>(parsed);
    switch (route.kind) {
    case RouteKind::ServerAction: {
        const char* expected = v3 ? "get_rdp_console" : "os-getRDPConsole";
        if (action.name != expected) return bad("There is no such action: " + clip(action.name));
        if (auto problem = checkMembers(action, {"type"}, {"type"})) return bad(*problem);
        const std::string& type = action.fields.at("type");
        if (type != kConsoleType) return bad(notOneOf("type", type, "['rdp-html5']"));
        issueUrl(pending, who, false);
        return;
    }
    case RouteKind::RemoteConsoles: {
        if (action.name != "remote_console")
            return bad("Invalid input for field/attribute remote_console. 'remote_console' is a required property");
        if (auto problem = checkMembers(action, {"protocol", "type"}, {"protocol", "type"})) return bad(*problem);
        const std::string& protocol = action.fields.at("protocol");
        const std::string& type = action.fields.at("type");
        static const std::set<std::string> kProtocols{"vnc", "spice", "rdp", "serial", "mks"};
        static const std::set<std::string> kTypes{"novnc", "xvpvnc", "rdp-html5", "spice-html5", "serial", "webmks"};
        if (kProtocols.count(protocol) == 0)
            return bad(notOneOf("protocol", protocol, "['vnc', 'spice', 'rdp', 'serial', 'mks']"));
        if (kTypes.count(type) == 0)
            return bad(notOneOf("type", type,
                                "['novnc', 'xvpvnc', 'rdp-html5', 'spice-html5', 'serial', 'webmks']"));
        if (protocol != "rdp" || type != kConsoleType) {
            if (protocol == "rdp" || type == kConsoleType)
                return bad("Invalid parameters: protocol " + clip(protocol) + " does not support type " + clip(type));
            return bad("Unavailable console type " + clip(type) + ".");
        }
        issueUrl(pending, who, true);
        return;
    }
    case RouteKind::TokenAction: {
        const char* expected = v3 ? "get_console_connect_info" : "os-getConsoleConnectInfo";
        if (action.name != expected) return bad("There is no such action: " + clip(action.name));
        if (!action.fields.empty())
            return bad("Invalid input for field/attribute " + action.name + ". It takes no parameters");
        resolveToken(pending, who);
        return;
    }
    case RouteKind::TokenGet: break;
    }
}

void NovaConsoleHandler::issueUrl(Pending& pending, const Identity& who, bool remoteConsole)
{
    const std::string& id = pending.route.id;
    const WireFormat format = pending.format;
    if (!auth::atLeast(who.role, auth::Role::VmOperator)) {
        pending.respond(fault(format, 403, "Policy doesn't allow os_compute_api:os-remote-consoles to be performed."));
        return;
    }
    const auto vmRef = store_.findByUuid(metrics::ObjectClass::Vm, id);
    const metrics::VmRecord* vm = vmRef ? store_.getAs<metrics::VmRecord>(*vmRef) : nullptr;
    if (vm == nullptr || vm->isControlDomain) {
        pending.respond(fault(format, 404, "Instance " + id + " could not be found."));
        return;
    }
    if (!options_.enabled) {
        pending.respond(fault(format, 400, "Unavailable console type rdp-html5."));
        return;
    }
    if (vm->powerState != metrics::PowerState::Running || vm->domid < 0) {
        pending.respond(fault(format, 409, "Instance " + id + " is not ready"));
        return;
    }
    const auto* gm = store_.getAs<metrics::GuestMetricsRecord>(vm->guestMetrics);
    std::optional<std::string> address = gm != nullptr ? guestAddress(gm->networks) : std::nullopt;
    if (!address) {
        pending.respond(fault(format, 409, "Instance " + id + " is not ready: its guest has reported no address"));
        return;
    }
    const std::string token = tokens_.issue(TokenTarget{*vmRef, vm->uuid, vm->domid, *address, options_.rdpPort});
    const std::string url = options_.proxyBaseUrl + "?token=" + token;
    if (log_)
        log_->info("CONSOLE_URL_ISSUED vm={} user={} peer={} token_sha256={} ttl_ms={}", vm->uuid,
                   transport::logText(who.user),
                   pending.peer, hashPrefix(token), tokens_.ttl().count());
    HttpResponse r = answer(200, format,
                            remoteConsole ? renderRemoteConsole(format, "rdp", kConsoleType, url)
                                          : renderConsoleUrl(format, kConsoleType, url));
    r.headers.emplace_back("Cache-Control", "no-store");
    if (remoteConsole) {
        for (const char* name : {"OpenStack-API-Version", "X-OpenStack-Nova-API-Version"}) {
            if (auto v = pending.req.header(name)) {
                r.headers.emplace_back(name, std::string(*v));
                r.headers.emplace_back("Vary", name);
            }
        }
    }
    pending.respond(std::move(r));
}

void NovaConsoleHandler::resolveToken(Pending& pending, const Identity& who)
{
    const WireFormat format = pending.format;
    if (!auth::atLeast(who.role, auth::Role::PoolAdmin)) {
        pending.respond(
            fault(format, 403, "Policy doesn't allow os_compute_api:os-console-auth-tokens to be performed."));
        return;
    }
    const std::string& token = pending.route.id;
    auto target = tokens_.lookup(token);
    if (!target) {
        if (log_) log_->info("CONSOLE_TOKEN_UNKNOWN token_sha256={} peer={}", hashPrefix(token), pending.peer);
        pending.respond(fault(format, 404, "Token not found"));
        return;
    }
    if (log_)
        log_->info("CONSOLE_TOKEN_RESOLVED vm={} user={} token_sha256={}", target->vmUuid,
                   transport::logText(who.user),
                   hashPrefix(token));
    HttpResponse r = answer(200, format,
                            renderConnectInfo(format, ConnectInfo{target->vmUuid, target->host, target->port,
                                                                  target->vmUuid}));
    r.headers.emplace_back("Cache-Control", "no-store");
    pending.respond(std::move(r));
}

}  // namespace xenrdp::xapi_rpc::console
