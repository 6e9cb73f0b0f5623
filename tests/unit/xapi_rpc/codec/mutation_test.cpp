// Deterministic mutations of real requests: the parsers must answer every
// one with a Call or a ParseError, and whatever they accept must survive a
// write/parse round trip. (xmlrpc-c 1.33.14 has crashed on such input.)
#include <xapi_rpc/codec/json_rpc.hpp>
#include <xapi_rpc/codec/xml_rpc.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <array>
#include <random>
#include <string>

namespace xr = xenrdp::xapi_rpc;

namespace {

constexpr std::array<const char*, 26> fragments = {
    "<", ">", "</", "/>", "<i8>", "</i8>", "<double>", "</double>", "e", "-", "+",
    "99999999999999999999999", "&", "&#0;", "&amp;", "<![CDATA[", "]]>", "<!--", "-->",
    "\xff", "<value>", "</value>", "\"", "[", "{", "1e999"};

std::string mutate(std::string text, std::mt19937& rng) {
    const unsigned count = 1 + rng() % 4;
    for (unsigned m = 0; m < count; ++m) {
        const std::size_t pos = rng() % (text.size() + 1);
        switch (rng() % 3) {
        case 0: text.insert(pos, fragments[rng() % fragments.size()]); break;
        case 1: if (pos < text.size()) text.erase(pos, 1 + rng() % 8); break;
        default: if (pos < text.size()) text[pos] = static_cast<char>(rng() & 0xFFU); break;
        }
    }
    return text;
}

}  // namespace

TEST_CASE("XML parser answers every mutated request and accepted calls round-trip", "[xml][mutation]") {
    const std::string seed =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><methodCall><methodName>event.from</methodName>"
        "<params><param><value>OpaqueRef:d19d</value></param><param><value><array><data>"
        "<value>role</value><value><i8>5</i8></value><value><int>7</int></value></data></array>"
        "</value></param><param><value><struct><member><name>a</name><value><double>60.1</double>"
        "</value></member><member><name>b</name><value><dateTime.iso8601>20150101T00:00:00Z"
        "</dateTime.iso8601></value></member></struct></value></param><param><value><base64>"
        "aGVsbG8=</base64></value></param><param><value><nil/></value></param><param><value>"
        "<boolean>1</boolean></value></param></params></methodCall>";
    std::mt19937 rng(1234);
    int accepted = 0;
    for (int i = 0; i < 3000; ++i) {
        const std::string body = mutate(seed, rng);
        auto result = xenrdp::xapi_rpc::xml::parseCall(body);
        if (!result.ok()) continue;
        ++accepted;
        INFO(body);
        CHECK(xr::xml::parseCall(xr::xml::serializeCall(result.value())).ok());
    }
    CHECK(accepted > 0);
}

TEST_CASE("JSON parser answers every mutated request and accepted calls round-trip", "[json][mutation]") {
    const std::string seed =
        R"({"id":0,"jsonrpc":"2.0","method":"event.from","params":["OpaqueRef:004f",["role","pool"],)"
        R"({"a":1.5,"b":[null,true,-3]},"x",60.1]})";
    std::mt19937 rng(5678);
    int accepted = 0;
    for (int i = 0; i < 3000; ++i) {
        const std::string body = mutate(seed, rng);
        auto result = xr::json::parseRequest(body);
        if (!result.ok()) continue;
        ++accepted;
        INFO(body);
        const std::string reply = xr::json::serializeResponse(
            xr::Outcome::ok(xr::Value(result.value().call.params)), result.value());
        CHECK(nlohmann::json::accept(reply));
    }
    CHECK(accepted > 0);
}
