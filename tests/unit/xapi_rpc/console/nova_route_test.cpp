#include <catch2/catch.hpp>

#include <xapi_rpc/console/nova_route.hpp>

using namespace xenrdp::xapi_rpc::console;

TEST_CASE("Server action paths match with and without a version prefix", "[console][unit]")
{
    for (const char* path : {"/servers/abc/action", "/v2/servers/abc/action", "/v2.1/servers/abc/action",
                             "/v2.1/proj1/servers/abc/action", "/servers/abc/action?x=1"}) {
        INFO(path);
        auto r = matchRoute(path);
        REQUIRE(r);
        CHECK(r->kind == RouteKind::ServerAction);
        CHECK(r->flavor == ApiFlavor::V2);
        CHECK(r->id == "abc");
    }
    auto v3 = matchRoute("/v3/servers/abc/action");
    REQUIRE(v3);
    CHECK(v3->flavor == ApiFlavor::V3);
}

TEST_CASE("Token paths match in their three spellings", "[console][unit]")
{
    for (const char* path : {"/console-auth-tokens/t", "/os-console-auth-tokens/t", "/v3/console-auth-tokens/t",
                             "/v2.1/os-console-auth-tokens/t", "/v2.1/p/os-console-auth-tokens/t"}) {
        INFO(path);
        auto r = matchRoute(path);
        REQUIRE(r);
        CHECK(r->kind == RouteKind::TokenGet);
        CHECK(r->id == "t");
    }
    auto action = matchRoute("/v3/console-auth-tokens/t/action");
    REQUIRE(action);
    CHECK(action->kind == RouteKind::TokenAction);
    CHECK(action->flavor == ApiFlavor::V3);
    CHECK(matchRoute("/v2.1/servers/s/remote-consoles")->kind == RouteKind::RemoteConsoles);
}

TEST_CASE("Other paths are left to XenAPI or answered 404 inside the console space", "[console][unit]")
{
    CHECK_FALSE(inConsoleSpace("/"));
    CHECK_FALSE(inConsoleSpace("/jsonrpc"));
    CHECK_FALSE(inConsoleSpace("/RPC2"));
    CHECK(inConsoleSpace("/servers"));
    CHECK_FALSE(matchRoute("/servers"));
    CHECK_FALSE(matchRoute("/servers//action"));
    CHECK_FALSE(matchRoute("/servers/a/b/action"));
    CHECK_FALSE(matchRoute("/v3/servers/a/remote-consoles"));
    CHECK_FALSE(matchRoute("/v3/os-console-auth-tokens/t"));
}
