#pragma once
/// Which Nova console endpoint a request-target names.
///
/// Accepted forms (an optional "/v2", "/v2.1" or "/v3" prefix; after /v2 and
/// /v2.1 an optional project-id segment, as in Nova's catalog URLs; the query
/// string is ignored):
///   [/v2|/v2.1][/<project>]/servers/<id>/action           ServerAction (V2)
///   /v3/servers/<id>/action                                ServerAction (V3)
///   [/v2|/v2.1][/<project>]/servers/<id>/remote-consoles  RemoteConsoles
///   [prefix]/console-auth-tokens/<token>                   TokenGet
///   [/v2|/v2.1][/<project>]/os-console-auth-tokens/<token> TokenGet
///   [prefix]/console-auth-tokens/<token>/action            TokenAction
/// Pure functions; any thread; never throw except std::bad_alloc.
#include <optional>
#include <string>
#include <string_view>

namespace xenrdp::xapi_rpc::console {

/// Which generation of the API the path names: V3 selects the action names
/// get_rdp_console / get_console_connect_info, V2 the os-* ones.
enum class ApiFlavor { V2, V3 };
enum class RouteKind { ServerAction, RemoteConsoles, TokenGet, TokenAction };

struct NovaRoute {
    RouteKind kind;
    ApiFlavor flavor;
    std::string id;  ///< the server id or the token, as sent
};

/// True when the target lies in the console API's space (servers,
/// console-auth-tokens, os-console-auth-tokens under an accepted prefix),
/// even if it names no endpoint: such requests get Nova's 404, not XenAPI's.
[[nodiscard]] bool inConsoleSpace(std::string_view target);

/// The endpoint, or nullopt.
[[nodiscard]] std::optional<NovaRoute> matchRoute(std::string_view target);

}  // namespace xenrdp::xapi_rpc::console
