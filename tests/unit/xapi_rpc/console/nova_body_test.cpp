#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <xapi_rpc/console/nova_body.hpp>

using namespace xenrdp::xapi_rpc::console;

namespace {
ActionBody ok(const ParsedBody& parsed)
{
    if (const auto* e = std::get_if<BodyError>(&parsed)) FAIL("unexpected error: " << e->message);
    return std::get<ActionBody>(parsed);
}
bool refused(const ParsedBody& parsed) { return std::holds_alternative<BodyError>(parsed); }
}  // namespace

TEST_CASE("Accept picks the answer format before the request's Content-Type", "[console][unit]")
{
    CHECK(responseFormat(std::nullopt, std::nullopt) == WireFormat::Json);
    CHECK(responseFormat(std::nullopt, "application/xml") == WireFormat::Xml);
    CHECK(responseFormat("application/json", "application/xml") == WireFormat::Json);
    CHECK(responseFormat("application/xml", "application/json") == WireFormat::Xml);
    CHECK(responseFormat("*/*", "text/xml; charset=utf-8") == WireFormat::Xml);
    CHECK(responseFormat("text/html", "application/xml") == WireFormat::Xml);
}

TEST_CASE("Accept q-values choose the format: highest wins, 0 excludes, ties as Nova", "[console][unit]")
{
    CHECK(responseFormat("application/json; q=0.3, application/xml; q=0.9", std::nullopt) == WireFormat::Xml);
    CHECK(responseFormat("application/xml;q=0.1, application/json", std::nullopt) == WireFormat::Json);
    CHECK(responseFormat("application/json;q=0, */*", std::nullopt) == WireFormat::VendorJson);
    CHECK(responseFormat("application/json;q=0, application/vnd.openstack.compute+json;q=0, */*;q=0.5",
                         std::nullopt) == WireFormat::Xml);
    CHECK(responseFormat("application/*;q=0.2, application/xml", std::nullopt) == WireFormat::Xml);
    SECTION("a tie goes to the request's own syntax, then to JSON (Nova's order)")
    {
        CHECK(responseFormat("application/xml, application/json", std::nullopt) == WireFormat::Json);
        CHECK(responseFormat("application/xml, application/json", "application/xml") == WireFormat::Xml);
        CHECK(responseFormat("application/json;q=0.5, application/xml;q=0.5", "text/xml") == WireFormat::Xml);
    }
    SECTION("nothing acceptable, or malformed ranges: the request's format")
    {
        CHECK(responseFormat("application/xml;q=0, application/json;q=0", "application/xml") == WireFormat::Xml);
        CHECK(responseFormat("application/json;q=2, application/json;q=x, json", "application/xml") ==
              WireFormat::Xml);
        CHECK(responseFormat("", std::nullopt) == WireFormat::Json);
    }
    SECTION("q is the last parameter; media type parameters before it are ignored")
    {
        CHECK(responseFormat("application/vnd.openstack.compute+xml;version=2;q=0.8, application/json;q=0.7",
                             std::nullopt) == WireFormat::VendorXml);
        CHECK(responseFormat("APPLICATION/XML;Q=1.000, application/json;q=0.999", std::nullopt) == WireFormat::Xml);
    }
}

TEST_CASE("Nova's vendor media types are accepted and answered under their own name", "[console][unit]")
{
    CHECK(responseFormat("application/vnd.openstack.compute+xml", std::nullopt) == WireFormat::VendorXml);
    CHECK(responseFormat("application/vnd.openstack.compute+json", "application/xml") == WireFormat::VendorJson);
    CHECK(responseFormat(std::nullopt, "application/vnd.openstack.compute+xml") == WireFormat::VendorXml);
    CHECK(responseFormat("application/xml, application/vnd.openstack.compute+xml", std::nullopt) ==
          WireFormat::Xml);
    CHECK(contentTypeOf(WireFormat::VendorXml) == "application/vnd.openstack.compute+xml");
    CHECK(contentTypeOf(WireFormat::VendorJson) == "application/vnd.openstack.compute+json");
    CHECK(contentTypeOf(WireFormat::Xml) == "application/xml");
    CHECK(ok(parseActionBody("<a/>", "application/vnd.openstack.compute+xml")).name == "a");
    CHECK(ok(parseActionBody(R"({"a": null})", "Application/VND.openstack.compute+json; charset=UTF-8")).name ==
          "a");
    CHECK(refused(parseActionBody(R"({"a": null})", "application/json-patch+json")));
    CHECK(refused(parseActionBody("<a/>", "application/xml-dtd")));
    CHECK(renderConsoleUrl(WireFormat::VendorXml, "rdp-html5", "u") ==
          renderConsoleUrl(WireFormat::Xml, "rdp-html5", "u"));
    CHECK(renderFault(WireFormat::VendorJson, 404, "m") == renderFault(WireFormat::Json, 404, "m"));
}

TEST_CASE("JSON actions parse into a name and string fields", "[console][unit]")
{
    auto a = ok(parseJsonAction(R"({"os-getRDPConsole": {"type": "rdp-html5"}})"));
    CHECK(a.name == "os-getRDPConsole");
    CHECK(a.fields.at("type") == "rdp-html5");
    auto n = ok(parseJsonAction(R"({"os-getConsoleConnectInfo": null})"));
    CHECK(n.null);
    CHECK(n.fields.empty());
}

TEST_CASE("Malformed or ill-shaped JSON bodies are refused", "[console][unit]")
{
    for (const char* body : {"", "{", "[]", "{}", "null", R"({"a": 1})", R"({"a": {"type": 5}})",
                             R"({"a": {"type": {"x": "y"}}})", R"({"a": {}, "b": {}})"}) {
        INFO(body);
        CHECK(refused(parseJsonAction(body)));
    }
}

TEST_CASE("XML actions accept the documented element forms", "[console][unit]")
{
    auto a = ok(parseXmlAction("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<os-getRDPConsole type=\"rdp-html5\" />"));
    CHECK(a.name == "os-getRDPConsole");
    CHECK(a.fields.at("type") == "rdp-html5");
    auto b = ok(parseXmlAction("  <get_rdp_console type='rdp-html5'></get_rdp_console>\n"));
    CHECK(b.name == "get_rdp_console");
    auto c = ok(parseXmlAction("<os-getConsoleConnectInfo/>"));
    CHECK(c.fields.empty());
    auto d = ok(parseXmlAction(R"(<x xmlns="http://docs.openstack.org/compute/api/v1.1" type="a&amp;b"/>)"));
    CHECK(d.fields.size() == 1);
    CHECK(d.fields.at("type") == "a&b");
}

TEST_CASE("XML bodies beyond one empty element are refused", "[console][unit]")
{
    for (const char* body :
         {"", "<", "<a", "<a/><b/>", "<a>text</a>", "<a><b/></a>", "<a></b>", "<a type=rdp/>",
          "<a type=\"x\" type=\"y\"/>", "<a type=\"&ent;\"/>", "<a type=\"&#60;\"/>",
          "<!DOCTYPE a [<!ENTITY e \"x\">]><a type=\"&e;\"/>", "<!-- c --><a/>", "<?pi x?><a/>",
          "<a type=\"x\"typo=\"y\"/>", "<a/>trailing", "<![CDATA[x]]>", "<?xml version=\"1.0\" bogus=\"1\"?><a/>"}) {
        INFO(body);
        CHECK(refused(parseXmlAction(body)));
    }
}

TEST_CASE("The body parser follows the Content-Type and sniffs without one", "[console][unit]")
{
    CHECK(ok(parseActionBody("<a/>", std::nullopt)).name == "a");
    CHECK(ok(parseActionBody(R"({"a": null})", std::nullopt)).name == "a");
    CHECK(refused(parseActionBody("<a/>", "application/json")));
    CHECK(ok(parseActionBody("<a/>", "application/xml; charset=UTF-8")).name == "a");
    CHECK(refused(parseActionBody(R"({"a": null})", "text/plain")));
}

TEST_CASE("Answers take Nova's JSON and XML shapes", "[console][unit]")
{
    const auto j = nlohmann::json::parse(renderConsoleUrl(WireFormat::Json, "rdp-html5", "http://p/?token=t"));
    CHECK(j == nlohmann::json::parse(R"({"console": {"type": "rdp-html5", "url": "http://p/?token=t"}})"));
    CHECK(renderConsoleUrl(WireFormat::Xml, "rdp-html5", "http://p/?token=t&x=1") ==
          "<?xml version='1.0' encoding='UTF-8'?>\n<console><type>rdp-html5</type>"
          "<url>http://p/?token=t&amp;x=1</url></console>");
    const auto info = nlohmann::json::parse(
        renderConnectInfo(WireFormat::Json, ConnectInfo{"u", "192.0.2.1", 3389, "u"}));
    CHECK(info["console"]["host"] == "192.0.2.1");
    CHECK(info["console"]["port"].is_number_integer());
    CHECK(info["console"]["port"] == 3389);
    const auto remote = nlohmann::json::parse(renderRemoteConsole(WireFormat::Json, "rdp", "rdp-html5", "u"));
    CHECK(remote["remote_console"]["protocol"] == "rdp");
}

TEST_CASE("Faults use Nova's names in both formats", "[console][unit]")
{
    const auto f = nlohmann::json::parse(renderFault(WireFormat::Json, 409, "Instance x is not ready"));
    CHECK(f["conflictingRequest"]["code"] == 409);
    CHECK(f["conflictingRequest"]["message"] == "Instance x is not ready");
    CHECK(renderFault(WireFormat::Xml, 400, "a<b") ==
          "<?xml version='1.0' encoding='UTF-8'?>\n<badRequest code=\"400\" "
          "xmlns=\"http://docs.openstack.org/compute/api/v1.1\"><message>a&lt;b</message></badRequest>");
    CHECK(faultName(401) == "unauthorized");
    CHECK(faultName(403) == "forbidden");
    CHECK(faultName(404) == "itemNotFound");
}
