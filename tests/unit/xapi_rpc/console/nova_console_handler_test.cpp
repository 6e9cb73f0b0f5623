#include <catch2/catch.hpp>

#include <chrono>
#include <optional>

#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include <auth/fake_authenticator.hpp>
#include <xapi_rpc/console/console_service.hpp>

using namespace xenrdp;
using namespace xenrdp::xapi_rpc;
using namespace xenrdp::xapi_rpc::console;
using nlohmann::json;
using transport::HttpRequest;
using transport::HttpResponse;

namespace {

constexpr const char* kVmUuid = "11111111-2222-4333-8444-555555555555";

/// A console service over a real store, a fake authenticator and real sessions.
struct Fixture {
    boost::asio::io_context io;
    metrics::ObjectStore store;
    auth::test::FakeAuthenticator authenticator{io.get_executor(), "Authentication failure"};
    auth::LoginThrottle throttle{io.get_executor(), std::chrono::milliseconds(20)};
    dispatch::SessionManager sessions;
    std::optional<ConsoleService> service;
    std::string vmRef;
    std::string gmRef;

    explicit Fixture(bool enabled = true)
    {
        authenticator.add("admin", "pw", auth::Role::PoolAdmin);
        authenticator.add("op", "pw", auth::Role::VmOperator);
        authenticator.add("ro", "pw", auth::Role::ReadOnly);
        metrics::GuestMetricsRecord gm;
        gm.uuid = metrics::randomUuid();
        gm.networks = {{"0/ip", "192.0.2.10"}};
        gm.other = {{"data-ts", "1"}};
        gmRef = store.add(metrics::Record{gm});
        metrics::VmRecord vm;
        vm.uuid = kVmUuid;
        vm.powerState = metrics::PowerState::Running;
        vm.domid = 3;
        vm.guestMetrics = gmRef;
        vmRef = store.add(metrics::Record{vm});
        ConsoleServiceOptions options;
        options.nova.enabled = enabled;
        options.nova.proxyBaseUrl = "http://proxy.example:6083/";
        service.emplace(io.get_executor(), store, authenticator, throttle, sessions, options);
        service->start();
    }

    HttpResponse send(HttpRequest req)
    {
        std::optional<HttpResponse> out;
        service->handler().handle(std::move(req), transport::PeerInfo{},
                                  [&out](HttpResponse r) { out = std::move(r); });
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        while (!out && std::chrono::steady_clock::now() < deadline) {
            io.restart();
            io.run_one_for(std::chrono::milliseconds(100));
        }
        REQUIRE(out);
        return *out;
    }

    static HttpRequest request(std::string method, std::string target, std::string body,
                               std::vector<std::pair<std::string, std::string>> headers)
    {
        HttpRequest req;
        req.method = std::move(method);
        req.target = std::move(target);
        req.body = std::move(body);
        req.headers = std::move(headers);
        return req;
    }
};

const std::pair<std::string, std::string> kAdmin{"Authorization", "Basic YWRtaW46cHc="};  // admin:pw
const std::pair<std::string, std::string> kOperator{"Authorization", "Basic b3A6cHc="};    // op:pw
const std::pair<std::string, std::string> kReader{"Authorization", "Basic cm86cHc="};      // ro:pw
const std::pair<std::string, std::string> kJson{"Content-Type", "application/json"};

std::string header(const HttpResponse& r, const std::string& name)
{
    for (const auto& [k, v] : r.headers)
        if (transport::equalsIgnoreCase(k, name)) return v;
    return {};
}

std::string tokenOf(const std::string& url)
{
    const auto at = url.find("?token=");
    REQUIRE(at != std::string::npos);
    return url.substr(at + 7);
}

}  // namespace

TEST_CASE("A vm-operator gets a console URL whose token an admin resolves", "[console][unit]")
{
    Fixture f;
    auto r = f.send(Fixture::request("POST", std::string("/v2.1/servers/") + kVmUuid + "/action",
                                     R"({"os-getRDPConsole": {"type": "rdp-html5"}})", {kOperator, kJson}));
    REQUIRE(r.status == 200);
    CHECK(header(r, "Content-Type") == "application/json");
    const auto body = json::parse(r.body);
    CHECK(body["console"]["type"] == "rdp-html5");
    const std::string url = body["console"]["url"];
    CHECK(url.rfind("http://proxy.example:6083/?token=", 0) == 0);
    const std::string token = tokenOf(url);

    auto info = f.send(Fixture::request("GET", "/os-console-auth-tokens/" + token, "", {kAdmin}));
    REQUIRE(info.status == 200);
    const auto c = json::parse(info.body)["console"];
    CHECK(c["instance_uuid"] == kVmUuid);
    CHECK(c["host"] == "192.0.2.10");
    CHECK(c["port"] == 3389);
    CHECK(c["internal_access_path"] == kVmUuid);

    auto again = f.send(Fixture::request("POST", "/v3/console-auth-tokens/" + token + "/action",
                                         "<get_console_connect_info/>", {kAdmin, {"Content-Type", "application/xml"}}));
    CHECK(again.status == 200);
    CHECK(again.body.find("<host>192.0.2.10</host>") != std::string::npos);
}

TEST_CASE("Console requests are refused with Nova's statuses", "[console][unit]")
{
    Fixture f;
    const std::string action = std::string("/servers/") + kVmUuid + "/action";
    SECTION("401 without credentials, with a challenge")
    {
        auto r = f.send(Fixture::request("POST", action, R"({"os-getRDPConsole": {"type": "rdp-html5"}})", {}));
        CHECK(r.status == 401);
        CHECK(header(r, "WWW-Authenticate") == "Basic realm=\"xenrdpd\"");
        CHECK(json::parse(r.body)["unauthorized"]["code"] == 401);
    }
    SECTION("401 for a wrong password or an unknown session")
    {
        CHECK(f.send(Fixture::request("POST", action, "{}", {{"Authorization", "Basic YWRtaW46eA=="}})).status == 401);
        CHECK(f.send(Fixture::request("POST", action, "{}", {{"X-Auth-Token", "OpaqueRef:nope"}})).status == 401);
    }
    SECTION("400 for bad types, extra keys and malformed bodies")
    {
        for (const char* body : {R"({"os-getRDPConsole": {"type": "novnc"}})", R"({"os-getRDPConsole": {}})",
                                 R"({"os-getRDPConsole": {"type": "rdp-html5", "x": "y"}})", "{not json",
                                 R"({"get_rdp_console": {"type": "rdp-html5"}})"}) {
            INFO(body);
            auto r = f.send(Fixture::request("POST", action, body, {kOperator}));
            CHECK(r.status == 400);
            CHECK(json::parse(r.body)["badRequest"]["code"] == 400);
        }
        auto xml = f.send(Fixture::request("POST", action, "<os-getRDPConsole type=\"rdp-html5\">",
                                           {kOperator, {"Content-Type", "application/xml"}}));
        CHECK(xml.status == 400);
        CHECK(xml.body.find("<badRequest code=\"400\"") != std::string::npos);
    }
    SECTION("403 for a read-only user and for a vm-operator resolving a token")
    {
        CHECK(f.send(Fixture::request("POST", action, R"({"os-getRDPConsole": {"type": "rdp-html5"}})", {kReader}))
                  .status == 403);
        CHECK(f.send(Fixture::request("GET", "/console-auth-tokens/x", "", {kOperator})).status == 403);
    }
    SECTION("404 for an unknown VM or token")
    {
        auto r = f.send(Fixture::request("POST", "/servers/00000000-0000-4000-8000-000000000000/action",
                                         R"({"os-getRDPConsole": {"type": "rdp-html5"}})", {kOperator}));
        CHECK(r.status == 404);
        CHECK(json::parse(r.body).contains("itemNotFound"));
        CHECK(f.send(Fixture::request("GET", "/console-auth-tokens/x", "", {kAdmin})).status == 404);
    }
    SECTION("409 for a halted VM or one without an address")
    {
        auto gm = *f.store.getAs<metrics::GuestMetricsRecord>(f.gmRef);
        gm.networks = {};
        f.store.update(f.gmRef, metrics::Record{gm});
        auto r = f.send(Fixture::request("POST", action, R"({"os-getRDPConsole": {"type": "rdp-html5"}})", {kOperator}));
        CHECK(r.status == 409);
        CHECK(json::parse(r.body).contains("conflictingRequest"));
    }
    SECTION("405 for a wrong method")
    {
        CHECK(f.send(Fixture::request("DELETE", action, "", {kOperator})).status == 405);
    }
}

TEST_CASE("With the console switched off a URL request is 400 Unavailable console type", "[console][unit]")
{
    Fixture f(false);
    auto r = f.send(Fixture::request("POST", std::string("/servers/") + kVmUuid + "/action",
                                     R"({"os-getRDPConsole": {"type": "rdp-html5"}})", {kOperator}));
    CHECK(r.status == 400);
    CHECK(json::parse(r.body)["badRequest"]["message"] == "Unavailable console type rdp-html5.");
}

TEST_CASE("A session ref in X-Auth-Token authenticates and remote-consoles echoes the version", "[console][unit]")
{
    Fixture f;
    const auto& session = f.sessions.create("op", auth::Role::VmOperator, false, "test");
    auto r = f.send(Fixture::request("POST", std::string("/v2.1/servers/") + kVmUuid + "/remote-consoles",
                                     R"({"remote_console": {"protocol": "rdp", "type": "rdp-html5"}})",
                                     {{"X-Auth-Token", session.ref}, {"OpenStack-API-Version", "compute 2.6"}}));
    REQUIRE(r.status == 200);
    CHECK(header(r, "OpenStack-API-Version") == "compute 2.6");
    CHECK(json::parse(r.body)["remote_console"]["protocol"] == "rdp");
    auto mismatch = f.send(Fixture::request("POST", std::string("/v2.1/servers/") + kVmUuid + "/remote-consoles",
                                            R"({"remote_console": {"protocol": "vnc", "type": "rdp-html5"}})",
                                            {{"X-Auth-Token", session.ref}}));
    CHECK(mismatch.status == 400);
}

TEST_CASE("A VM that halts loses its console tokens", "[console][unit]")
{
    Fixture f;
    auto r = f.send(Fixture::request("POST", std::string("/v3/servers/") + kVmUuid + "/action",
                                     "<get_rdp_console type=\"rdp-html5\"/>", {kOperator}));
    REQUIRE(r.status == 200);
    CHECK(header(r, "Content-Type") == "application/xml");
    const auto start = r.body.find("?token=") + 7;
    const std::string token = r.body.substr(start, r.body.find("</url>") - start);
    REQUIRE(f.service->tokens().lookup(token));
    auto vm = *f.store.getAs<metrics::VmRecord>(f.vmRef);
    vm.powerState = metrics::PowerState::Halted;
    vm.domid = -1;
    f.store.update(f.vmRef, metrics::Record{vm});
    f.io.restart();
    while (f.io.poll() != 0) {
    }
    CHECK_FALSE(f.service->tokens().lookup(token));
    CHECK(f.send(Fixture::request("GET", "/console-auth-tokens/" + token, "", {kAdmin})).status == 404);
}
