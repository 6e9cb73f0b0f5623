#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <xapi_rpc/codec/xml_rpc.hpp>
#include <xapi_rpc/dispatch/http_handler.hpp>

#include "dispatch_test_support.hpp"

using namespace xenrdp::xapi_rpc;
using namespace xenrdp::xapi_rpc::dispatch;
using namespace xenrdp::xapi_rpc::dispatch::test;
using transport::HttpRequest;
using transport::HttpResponse;
using transport::PeerInfo;
using nlohmann::json;

namespace {

struct HttpFixture : Fixture {
    XapiHttpHandler handler{*dispatcher};

    /// Hands one request to the handler; the response lands in the slot.
    std::shared_ptr<std::optional<HttpResponse>> send(
        const std::string& method, const std::string& target, std::string body, PeerInfo peer = PeerInfo{},
        std::shared_ptr<transport::ConnectionStatus> connection = std::make_shared<transport::ConnectionStatus>())
    {
        HttpRequest req;
        req.method = method;
        req.target = target;
        req.body = std::move(body);
        req.connection = std::move(connection);
        auto out = std::make_shared<std::optional<HttpResponse>>();
        handler.handle(std::move(req), peer, [out](HttpResponse r) { *out = std::move(r); });
        return out;
    }

    HttpResponse request(const std::string& method, const std::string& target, std::string body,
                         PeerInfo peer = PeerInfo{})
    {
        auto out = send(method, target, std::move(body), std::move(peer));
        if (!runUntil(io, [out] { return out->has_value(); })) return HttpResponse{599, {}, "timeout"};
        return std::move(**out);
    }

    HttpResponse post(const std::string& target, std::string body) { return request("POST", target, std::move(body)); }

    /// One JSON-RPC v2 call as XenCenter sends it.
    json rpc(const std::string& method, json params, int id)
    {
        json req = {{"id", id}, {"method", method}, {"params", std::move(params)}, {"jsonrpc", "2.0"}};
        auto r = post("/jsonrpc", req.dump());
        lastStatus = r.status;
        lastContentType = headerOf(r, "Content-Type");
        return json::parse(r.body, nullptr, false);
    }

    /// Starts one JSON-RPC v2 call on `connection`; the response lands in the slot.
    std::shared_ptr<std::optional<HttpResponse>> sendRpc(const std::string& method, json params,
                                                         std::shared_ptr<transport::ConnectionStatus> connection)
    {
        json req = {{"id", 1}, {"method", method}, {"params", std::move(params)}, {"jsonrpc", "2.0"}};
        return send("POST", "/jsonrpc", req.dump(), PeerInfo{}, std::move(connection));
    }

    static std::string headerOf(const HttpResponse& r, const std::string& name)
    {
        for (const auto& [k, v] : r.headers) {
            if (transport::equalsIgnoreCase(k, name)) return v;
        }
        return "<absent>";
    }

    unsigned lastStatus = 0;
    std::string lastContentType;
};

/// XenCenter's JsonResponseV2 contract (xenapi-clients.md §0.5, §4.1):
/// jsonrpc and id present, error never null, an error has an int code, a
/// string message and a present array of strings as data.
void checkXenCenterContract(const json& r, int id)
{
    REQUIRE(r.is_object());
    CHECK(r.value("jsonrpc", "") == "2.0");
    REQUIRE(r.contains("id"));
    CHECK(r["id"] == id);
    if (r.contains("error")) {
        REQUIRE_FALSE(r["error"].is_null());
        CHECK(r["error"]["code"].is_number_integer());
        CHECK(r["error"]["message"].is_string());
        REQUIRE(r["error"].contains("data"));
        REQUIRE(r["error"]["data"].is_array());
        for (const auto& d : r["error"]["data"]) CHECK(d.is_string());
        CHECK_FALSE(r.contains("result"));
    } else {
        CHECK(r.contains("result"));
    }
}

/// RPM-style "a.b.c" >= "x.y.z" on numeric parts.
bool versionAtLeast(const std::string& have, const std::vector<int>& need)
{
    std::vector<int> parts;
    std::stringstream ss(have);
    std::string p;
    while (std::getline(ss, p, '.')) parts.push_back(std::stoi(p));
    return parts >= need;
}

}  // namespace

TEST_CASE("A JSON-RPC v2 success has jsonrpc, result and id but no error key", "[dispatch][http]")
{
    HttpFixture f;
    auto r = f.post("/jsonrpc", R"({"id":0,"jsonrpc":"2.0","method":"session.login_with_password","params":["admin","secret"]})");
    CHECK(r.status == 200);
    CHECK(HttpFixture::headerOf(r, "Content-Type") == "application/json");
    CHECK(HttpFixture::headerOf(r, "Access-Control-Allow-Origin") == "*");
    auto j = json::parse(r.body);
    CHECK(j.contains("result"));
    CHECK_FALSE(j.contains("error"));
    CHECK(r.body.rfind(R"({"jsonrpc":"2.0","result":"OpaqueRef:)", 0) == 0);
}

TEST_CASE("A JSON-RPC v2 failure is HTTP 200 with an error object of code 1", "[dispatch][http]")
{
    HttpFixture f;
    auto r = f.post("/jsonrpc", R"({"id":"x","jsonrpc":"2.0","method":"VM.get_all","params":["OpaqueRef:bad"]})");
    CHECK(r.status == 200);
    CHECK(r.body == R"({"jsonrpc":"2.0","error":{"code":1,"message":"SESSION_INVALID","data":["OpaqueRef:bad"]},"id":"x"})");
}

TEST_CASE("A JSON-RPC v1 success carries error null", "[dispatch][http]")
{
    HttpFixture f;
    auto r = f.post("/jsonrpc", R"({"id":3,"method":"system.listMethods","params":[]})");
    auto j = json::parse(r.body);
    CHECK(j.contains("error"));
    CHECK(j["error"].is_null());
    CHECK(j["result"].is_array());
}

TEST_CASE("JSON-RPC is also served on a jsonrpc path below a prefix", "[dispatch][http]")
{
    HttpFixture f;
    auto r = f.post("/api/jsonrpc?x=1", R"({"id":1,"jsonrpc":"2.0","method":"system.listMethods"})");
    CHECK(HttpFixture::headerOf(r, "Content-Type") == "application/json");
}

TEST_CASE("A malformed JSON-RPC body is HTTP 500", "[dispatch][http]")
{
    HttpFixture f;
    auto r = f.post("/jsonrpc", "{not json");
    CHECK(r.status == 500);
    CHECK(HttpFixture::headerOf(r, "Content-Type") == "application/json");
    auto j = json::parse(r.body);
    CHECK(j["error"]["data"].is_array());
}

TEST_CASE("An XML-RPC response is compact text/xml with the Status wrapper", "[dispatch][http]")
{
    HttpFixture f;
    for (const char* path : {"/", "/RPC2", "/xmlrpc"}) {
        INFO(path);
        auto r = f.post(path, xml::serializeCall(Call{"session.login_with_password", {"admin", "secret"}}));
        CHECK(r.status == 200);
        CHECK(HttpFixture::headerOf(r, "Content-Type") == "text/xml");
        CHECK(r.body.find('\n') == std::string::npos);
        CHECK_FALSE(std::regex_search(r.body, std::regex(">\\s+<")));
        CHECK(r.body.rfind("<?xml version=\"1.0\"?><methodResponse><params><param><value><struct><member><name>Status</name><value>Success</value></member>", 0) == 0);
    }
}

TEST_CASE("XML-RPC system.listMethods is answered bare, without Status", "[dispatch][http]")
{
    HttpFixture f;
    auto r = f.post("/", xml::serializeCall(Call{"system.listMethods", {}}));
    CHECK(r.body.rfind("<?xml version=\"1.0\"?><methodResponse><params><param><value><array><data>", 0) == 0);
    CHECK(r.body.find("<value>VM.get_all_records</value>") != std::string::npos);
}

TEST_CASE("XML-RPC call_plugin success is an empty untyped value", "[dispatch][http]")
{
    HttpFixture f;
    const std::string s = f.login();
    auto r = f.post("/", xml::serializeCall(Call{"VM.call_plugin", {s, f.winRef, "guest-agent-operation",
                                                                   "request-rdp-on", Struct{}}}));
    CHECK(r.body.find("<name>Value</name><value></value>") != std::string::npos);
    CHECK(f.guest.writes.size() == 1);
}

TEST_CASE("A malformed XML-RPC body is HTTP 500 with a short text", "[dispatch][http]")
{
    HttpFixture f;
    auto r = f.post("/", "<methodCall><oops>");
    CHECK(r.status == 500);
    CHECK(HttpFixture::headerOf(r, "Content-Type") == "text/plain");
    CHECK(r.body.size() < 400);
}

TEST_CASE("GET is answered 404 and other methods 405", "[dispatch][http]")
{
    HttpFixture f;
    CHECK(f.request("GET", "/", "").status == 404);
    CHECK(f.request("PUT", "/", "").status == 405);
    HttpRequest get;
    get.method = "GET";
    CHECK_FALSE(XapiHttpHandler::handles(get));
    get.method = "POST";
    CHECK(XapiHttpHandler::handles(get));
}

TEST_CASE("Root on a Unix socket logs in over HTTP without a password", "[dispatch][http]")
{
    HttpFixture f;
    PeerInfo peer;
    peer.kind = PeerInfo::Kind::Unix;
    peer.uid = 0;
    peer.address = "unix";
    auto r = f.request("POST", "/jsonrpc",
                       R"({"id":1,"jsonrpc":"2.0","method":"session.login_with_password","params":["root",""]})", peer);
    CHECK(json::parse(r.body)["result"].is_string());
    CHECK(f.authenticator.attempts == 0);
}

TEST_CASE("A TCP peer never counts as the local superuser even with a uid", "[dispatch][http]")
{
    HttpFixture f;
    PeerInfo peer;
    peer.kind = PeerInfo::Kind::Tcp;
    peer.uid = 0;
    auto r = f.request("POST", "/jsonrpc",
                       R"({"id":1,"jsonrpc":"2.0","method":"session.login_with_password","params":["root",""]})", peer);
    CHECK(json::parse(r.body)["error"]["message"] == "SESSION_AUTHENTICATION_FAILED");
}

TEST_CASE("A session made over XML-RPC works over JSON-RPC", "[dispatch][http]")
{
    HttpFixture f;
    auto login = f.post("/", xml::serializeCall(Call{"session.login_with_password", {"admin", "secret"}}));
    const std::regex ref("OpaqueRef:[0-9a-f-]{36}");
    std::smatch m;
    REQUIRE(std::regex_search(login.body, m, ref));
    const json r = f.rpc("VM.get_all", {m.str()}, 9);
    REQUIRE(r.contains("result"));
    CHECK(r["result"].size() == 4);
}

namespace {

/// XenCenter's connect sequence (xenapi-clients.md §4.2, Session.cs
/// SetupSessionDetails) as `user`, then its RDP click (§4.4): every response
/// must meet its JsonResponseV2 contract.
void replayXenCenter(const std::string& user, const std::string& password, bool superuser)
{
    HttpFixture f;
    int id = 1;
    // One call; its response must parse as XenCenter parses it.
    auto exchange = [&f, &id](const std::string& method, json params) {
        const int myId = id++;
        json r = f.rpc(method, std::move(params), myId);
        INFO(method);
        CHECK(f.lastStatus == 200);
        CHECK(f.lastContentType == "application/json");
        checkXenCenterContract(r, myId);
        return r;
    };
    auto step = [&exchange](const std::string& method, json params) {
        json r = exchange(method, std::move(params));
        INFO(method);
        REQUIRE(r.contains("result"));
        return r["result"];
    };

    const json session = step("session.login_with_password", {user, password, "2.20", "XenCenter 2023.4.0"});
    REQUIRE(session.is_string());
    const std::string s = session;

    const json pools = step("pool.get_all_records", {s});
    REQUIRE(pools.is_object());
    REQUIRE_FALSE(pools.empty());
    const std::string master = pools.begin().value()["master"];
    CHECK(master == f.hostRef);

    const json host = step("host.get_record", {s, master});
    REQUIRE(host["API_version_major"].is_number_integer());
    REQUIRE(host["API_version_minor"].is_number_integer());
    const int major = host["API_version_major"];
    const int minor = host["API_version_minor"];
    CHECK((major > 2 || (major == 2 && minor >= 6)));
    const json sv = host["software_version"];
    CHECK(versionAtLeast(sv["platform_version"], {2, 9, 50}));
    CHECK((!sv.contains("xencenter_min") || sv["xencenter_min"] == "2.20"));
    CHECK(host["address"].is_string());

    const json isSuperuser = step("session.get_is_local_superuser", {s, s});
    REQUIRE(isSuperuser.is_boolean());
    CHECK(isSuperuser == superuser);
    if (!isSuperuser) {
        // SessionSubject = get_subject (a XenRef<Subject>: a ref string),
        // UserSid = get_auth_user_sid (a dictionary key: must not be null).
        const json subject = step("session.get_subject", {s, s});
        REQUIRE(subject.is_string());
        CHECK(subject == "OpaqueRef:NULL");
        const json sid = step("session.get_auth_user_sid", {s, s});
        REQUIRE(sid.is_string());
        CHECK(sid == "");
        // UserDetails then asks the AD helpers about the SID, catching any
        // Failure: xenrdpd has none, and each answer must parse as a Failure.
        for (const char* lookup : {"auth.get_subject_information_from_identifier", "auth.get_group_membership"}) {
            const json r = exchange(lookup, {s, sid});
            REQUIRE(r.contains("error"));
            CHECK(r["error"]["message"] == "MESSAGE_METHOD_UNKNOWN");
        }
    }
    const json perms = step("session.get_rbac_permissions", {s, s});
    REQUIRE(perms.is_array());
    for (const auto& p : perms) CHECK(p.is_string());
    // The console's RDP button is gated by RBAC for a non-superuser.
    CHECK(std::find(perms.begin(), perms.end(), json("vm.call_plugin")) != perms.end());
    CHECK(step("role.get_all_records", {s}).is_object());
    CHECK(step("role.get_all_records", {s}).is_object());

    const json batch = step("event.from", {s, {"*"}, "", 30.0});
    REQUIRE(batch["events"].is_array());
    REQUIRE(batch["token"].is_string());
    REQUIRE(batch["valid_ref_counts"].is_object());
    bool sawPool = false;
    bool sawMaster = false;
    std::string rdpVm;
    for (const auto& e : batch["events"]) {
        REQUIRE(e["id"].is_string());
        CHECK(std::regex_match(e["id"].get<std::string>(), std::regex("[0-9]+")));  // ToObject<long>
        CHECK(e["operation"] == "add");
        if (e["class"] == "pool") sawPool = true;
        if (e["class"] == "host" && e["ref"] == master) {
            sawMaster = true;
            CHECK(e["snapshot"]["address"].is_string());
        }
        if (e["class"] == "vm") {
            CHECK(e["snapshot"]["power_state"].is_string());
            if (e["snapshot"]["guest_metrics"] == f.gmRef) rdpVm = e["ref"];
        }
    }
    CHECK(sawPool);
    CHECK(sawMaster);

    const json time = step("host.get_servertime", {s, master});
    REQUIRE(time.is_string());
    CHECK(std::regex_match(time.get<std::string>(), std::regex("[0-9]{8}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")));

    // "Turn on Remote Desktop", on a duplicated session (same ref).
    REQUIRE(rdpVm == f.winRef);
    CHECK(step("VM.call_plugin", {s, rdpVm, "guest-agent-operation", "request-rdp-on", json::object()}) == "");
    CHECK(f.guest.writes.size() == 1);
}

}  // namespace

TEST_CASE("XenCenter's connect sequence over JSON-RPC v2 meets its parsing rules", "[dispatch][http][xencenter]")
{
    replayXenCenter("admin", "secret", true);
}

TEST_CASE("XenCenter's connect sequence as a vm-operator takes the non-superuser path", "[dispatch][http][xencenter]")
{
    replayXenCenter("operator", "oppw", false);
}

TEST_CASE("npm xen-api's connect and watch sequence works over JSON-RPC", "[dispatch][http][npm]")
{
    HttpFixture f;
    auto call = [&f](const std::string& method, json params) {
        json r = f.rpc(method, std::move(params), 0);
        INFO(method);
        CHECK(f.lastContentType == "application/json");
        CHECK_FALSE(r.contains("error"));
        return r["result"];
    };
    const std::string s = call("session.login_with_password", {"admin", "secret"});
    const json pools = call("pool.get_all_records", {s});
    REQUIRE(pools.size() == 1);
    const std::string poolRef = pools.begin().key();
    CHECK(pools.begin().value()["other_config"].is_object());
    const json methods = call("system.listMethods", json::array());
    std::vector<std::string> types;
    for (const auto& m : methods) {
        const std::string name = m;
        const std::string suffix = ".get_all_records";
        if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
            types.push_back(name.substr(0, name.size() - suffix.size()));
        }
    }
    for (const char* t : {"pool", "host", "VM", "VM_guest_metrics"}) {
        CHECK(std::find(types.begin(), types.end(), t) != types.end());
    }
    const std::string token = call("event.inject", {s, "pool", poolRef});
    for (const auto& t : types) CHECK(call(t + ".get_all_records", {s}).is_object());
    const json batch = call("event.from", {s, types, token, 60.1});
    REQUIRE(batch["events"].size() == 1);
    CHECK(batch["events"][0]["class"] == "pool");
    CHECK(batch["events"][0]["operation"] == "mod");
    CHECK(batch["events"][0]["snapshot"]["master"] == f.hostRef);
    CHECK(batch["valid_ref_counts"].is_object());
    CHECK(batch["valid_ref_counts"]["task"] == 0);
    CHECK(call("VM.call_plugin", {s, f.winRef, "guest-agent-operation", "request-rdp-on", json::object()}) == "");
    CHECK(f.guest.writes.size() == 1);
}

TEST_CASE("Python XenAPI's login sequence works over XML-RPC with ints as bare values", "[dispatch][http][python]")
{
    HttpFixture f;
    auto value = [&f](const std::string& method, Array params) {
        auto r = f.post("/RPC2", xml::serializeCall(Call{method, std::move(params)}));
        INFO(method << ": " << r.body);
        CHECK(r.body.find("<name>Status</name><value>Success</value>") != std::string::npos);
        std::smatch m;
        REQUIRE(std::regex_search(r.body, m, std::regex("<name>Value</name><value>([^<]*)</value>")));
        return m.str(1);
    };
    const std::string s = value("session.login_with_password", {"admin", "secret", "2.1", "os-xenapi"});
    auto all = f.post("/RPC2", xml::serializeCall(Call{"pool.get_all", {s}}));
    CHECK(all.body.find("<value>" + f.poolRef + "</value>") != std::string::npos);
    const std::string master = value("pool.get_master", {s, f.poolRef});
    CHECK(master == f.hostRef);
    CHECK(value("host.get_API_version_major", {s, master}) == "2");
    CHECK(value("host.get_API_version_minor", {s, master}) == "20");
    CHECK(value("session.logout", {s}).empty());
}

TEST_CASE("XML-RPC event.from writes valid_ref_counts as i4", "[dispatch][http]")
{
    HttpFixture f;
    const std::string s = f.login();
    auto r = f.post("/", xml::serializeCall(Call{"event.from", {s, Array{"*"}, "", 0.0}}));
    CHECK(r.body.find("<name>valid_ref_counts</name><value><struct><member><name>pool</name><value><i4>1</i4></value>") !=
          std::string::npos);
}

TEST_CASE("os-xenapi's host.call_plugin with a base64 args value is XENAPI_MISSING_PLUGIN", "[dispatch][http][python]")
{
    HttpFixture f;
    const std::string s = f.login();
    // As Python's xmlrpc.client writes it (session.py's _verify_plugin_version).
    const std::string body =
        "<?xml version='1.0'?>\n<methodCall>\n<methodName>host.call_plugin</methodName>\n<params>\n"
        "<param>\n<value><string>" + s + "</string></value>\n</param>\n"
        "<param>\n<value><string>" + f.hostRef + "</string></value>\n</param>\n"
        "<param>\n<value><string>dom0_plugin_version.py</string></value>\n</param>\n"
        "<param>\n<value><string>get_version</string></value>\n</param>\n"
        "<param>\n<value><struct>\n<member>\n<name>params</name>\n<value><base64>\ngASVGAAAAAAAAAB9lC4=\n"
        "</base64></value>\n</member>\n<member>\n<name>host_uuid</name>\n<value><string>0b3e</string></value>\n"
        "</member>\n</struct></value>\n</param>\n</params>\n</methodCall>\n";
    auto r = f.post("/", body);
    CHECK(r.status == 200);
    CHECK(r.body.find("<name>Status</name><value>Failure</value>") != std::string::npos);
    CHECK(r.body.find("<name>ErrorDescription</name><value><array><data><value>XENAPI_MISSING_PLUGIN</value>"
                      "<value>dom0_plugin_version.py</value></data></array></value>") != std::string::npos);
}

namespace {

/// The token of "now" for `session` (an event.from that does not wait).
std::string currentToken(HttpFixture& f, const std::string& session)
{
    return f.rpc("event.from", {session, {"*"}, "", 0.0}, 1)["result"]["token"];
}

}  // namespace

TEST_CASE("An event.from whose client goes away ends at once, not at its timeout", "[dispatch][http][events]")
{
    HttpFixture f;
    const std::string s = f.login();
    const std::string token = currentToken(f, s);
    auto connection = std::make_shared<transport::ConnectionStatus>();
    auto out = f.sendRpc("event.from", {s, {"*"}, token, 300.0}, connection);
    REQUIRE(runUntil(f.io, [&f] { return f.dispatcher->counters().eventWaiters == 1; }));
    CHECK(connection->pending() == 1);
    CHECK_FALSE(out->has_value());

    const auto start = std::chrono::steady_clock::now();
    connection->markClosed();
    REQUIRE(runUntil(f.io, [&f] { return f.dispatcher->counters().eventWaiters == 0; }));
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(1));
    // Answered as a timeout would be (the transport drops it).
    REQUIRE(out->has_value());
    const json r = json::parse((*out)->body);
    CHECK(r["result"]["events"] == json::array());
    CHECK(r["result"]["token"] == token);
}

TEST_CASE("An event.next whose client goes away leaves the session's events for the next call",
          "[dispatch][http][events]")
{
    HttpFixture f;
    const std::string s = f.login();
    REQUIRE(f.rpc("event.register", {s, {"vm"}}, 1).contains("result"));
    auto connection = std::make_shared<transport::ConnectionStatus>();
    auto out = f.sendRpc("event.next", {s}, connection);
    REQUIRE(runUntil(f.io, [&f] { return f.dispatcher->counters().eventWaiters == 1; }));
    connection->markClosed();
    REQUIRE(runUntil(f.io, [&f] { return f.dispatcher->counters().eventWaiters == 0; }));
    CHECK(out->has_value());
    // A change made after the client left is there for the next event.next.
    f.store.touch(f.winRef);
    const json next = f.rpc("event.next", {s}, 2);
    REQUIRE(next["result"].is_array());
    REQUIRE(next["result"].size() == 1);
    CHECK(next["result"][0]["ref"] == f.winRef);
}

TEST_CASE("Long-polls answered on a kept-alive connection leave no close callbacks behind",
          "[dispatch][http][events]")
{
    HttpFixture f;
    const std::string s = f.login();
    auto connection = std::make_shared<transport::ConnectionStatus>();
    for (int i = 0; i < 3; ++i) {
        auto out = f.sendRpc("event.from", {s, {"vm"}, currentToken(f, s), 300.0}, connection);
        REQUIRE(runUntil(f.io, [&f] { return f.dispatcher->counters().eventWaiters == 1; }));
        f.store.touch(f.winRef);  // the change that answers it
        REQUIRE(runUntil(f.io, [out] { return out->has_value(); }));
        CHECK(connection->pending() == 0);
    }
    CHECK(f.dispatcher->counters().eventWaiters == 0);
}

TEST_CASE("An event.from on an already closed connection is answered at once", "[dispatch][http][events]")
{
    HttpFixture f;
    const std::string s = f.login();
    auto connection = std::make_shared<transport::ConnectionStatus>();
    connection->markClosed();
    auto out = f.sendRpc("event.from", {s, {"*"}, currentToken(f, s), 300.0}, connection);
    REQUIRE(runUntil(f.io, [out] { return out->has_value(); }, std::chrono::seconds(1)));
    CHECK(f.dispatcher->counters().eventWaiters == 0);
}
