#pragma once
/// NovaConsoleHandler: the HTTP side of Nova's RDP console API (see
/// nova_route.hpp for the paths).  Getting a console URL mints a console
/// auth token for the guest's address; resolving a token answers the
/// connection info a proxy (FreeRDP-WebConnect) needs.
///
/// Order of checks, as Nova: route (404) and method (405); credentials
/// (401: a XenAPI session ref in X-Auth-Token, or HTTP Basic checked by the
/// Authenticator with failures delayed by the LoginThrottle); the body
/// (400); the role (403: vm-operator for a URL, pool-admin for a token);
/// the VM or token (404); the rdp-console switch (400 "Unavailable console
/// type rdp-html5."); the VM's state (409 when not running or without a
/// reported address).  Answers and faults in Nova's JSON or XML shapes.
///
/// Threading: single io thread; handle() never blocks (a Basic login waits
/// on the Authenticator's completion).  Ownership: references the store,
/// authenticator, throttle, sessions and token store, which must outlive it;
/// a login completing after the handler is gone is dropped.
/// Failure: no exception escapes; anything unexpected is a 500 computeFault.
/// Tokens and passwords are never logged (a token's hash prefix at most).
#include <cstdint>
#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>

#include <metrics/object_store.hpp>
#include <xapi_rpc/auth/authenticator.hpp>
#include <xapi_rpc/auth/login_throttle.hpp>
#include <xapi_rpc/console/token_store.hpp>
#include <xapi_rpc/dispatch/session_manager.hpp>
#include <xapi_rpc/transport/request_handler.hpp>

namespace spdlog {
class logger;
}

namespace xenrdp::xapi_rpc::console {

struct NovaConsoleOptions {
    bool enabled = true;                                 ///< Nova's [rdp] enabled
    std::string proxyBaseUrl = "http://127.0.0.1:6083/";  ///< [rdp] html5_proxy_base_url
    std::uint16_t rdpPort = 3389;                        ///< the guests' RDP port
};

class NovaConsoleHandler final : public transport::RequestHandler {
public:
    NovaConsoleHandler(boost::asio::any_io_executor io, const metrics::ObjectStore& store,
                       auth::Authenticator& authenticator, const auth::LoginThrottle& throttle,
                       dispatch::SessionManager& sessions, ConsoleTokenStore& tokens,
                       NovaConsoleOptions options, std::shared_ptr<spdlog::logger> logger = nullptr);
    ~NovaConsoleHandler() override;
    NovaConsoleHandler(const NovaConsoleHandler&) = delete;
    NovaConsoleHandler& operator=(const NovaConsoleHandler&) = delete;

    /// The router's predicate: the target lies in the console API's space.
    static bool accepts(const transport::HttpRequest& req);

    void handle(transport::HttpRequest req, const transport::PeerInfo& peer,
                transport::Respond respond) override;

    /// New options for the requests that follow.
    void setOptions(NovaConsoleOptions options) { options_ = std::move(options); }

private:
    struct Pending;
    struct Identity;
    void authenticate(const std::shared_ptr<Pending>& pending);
    void proceed(Pending& pending, const Identity& who);
    void issueUrl(Pending& pending, const Identity& who, bool remoteConsole);
    void resolveToken(Pending& pending, const Identity& who);

    boost::asio::any_io_executor io_;
    const metrics::ObjectStore& store_;
    auth::Authenticator& authenticator_;
    const auth::LoginThrottle& throttle_;
    dispatch::SessionManager& sessions_;
    ConsoleTokenStore& tokens_;
    NovaConsoleOptions options_;
    std::shared_ptr<spdlog::logger> log_;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace xenrdp::xapi_rpc::console
