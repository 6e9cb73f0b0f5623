#include <xapi_rpc/codec/json_rpc.hpp>

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <string>

namespace xr = xenrdp::xapi_rpc;
namespace json = xenrdp::xapi_rpc::json;

namespace {

std::string encode(const xr::Value& v) {
    std::string out;
    json::appendValue(out, v);
    return out;
}

json::JsonRequest parseOk(std::string_view body) {
    auto result = json::parseRequest(body);
    INFO((result.ok() ? std::string() : result.error().message));
    REQUIRE(result.ok());
    return std::move(result).value();
}

// The first param of a v2 request whose params are `paramsJson`.
xr::Value parseParam(std::string_view valueJson) {
    auto req = parseOk(R"({"jsonrpc":"2.0","id":1,"method":"m","params":[)" + std::string(valueJson) + "]}");
    REQUIRE(req.call.params.size() == 1);
    return req.call.params.front();
}

bool rejected(std::string_view body) { return !json::parseRequest(body).ok(); }

std::string nestedArrays(std::size_t depth) {
    return std::string(depth, '[') + std::string(depth, ']');
}

}  // namespace

// ---------------------------------------------------------------- responses

TEST_CASE("JSON v2 success response has no error key", "[json][golden]") {
    auto req = parseOk(R"({"id":0,"jsonrpc":"2.0","method":"VM.call_plugin","params":[]})");
    CHECK(json::serializeResponse(xr::Outcome::ok(xr::Value("")), req) ==
          R"({"jsonrpc":"2.0","result":"","id":0})");
}

TEST_CASE("JSON v2 failure matches the reference's XENAPI_PLUGIN_FAILURE example", "[json][golden]") {
    const std::string detail =
        "The requested fn \"request-rdp-on\" of plugin \"guest-agent-operation\" could not be "
        "executed for lack of guest agent control feature.";
    auto outcome = xr::Outcome::failure({"XENAPI_PLUGIN_FAILURE", "failed to execute fn", detail, detail});
    CHECK(json::serializeResponse(outcome, "7", json::Version::v2) ==
          R"({"jsonrpc":"2.0","error":{"code":1,"message":"XENAPI_PLUGIN_FAILURE","data":["failed to execute fn","The requested fn \"request-rdp-on\" of plugin \"guest-agent-operation\" could not be executed for lack of guest agent control feature.","The requested fn \"request-rdp-on\" of plugin \"guest-agent-operation\" could not be executed for lack of guest agent control feature."]},"id":7})");
}

TEST_CASE("JSON v2 failure without params still carries an empty data array", "[json][golden]") {
    CHECK(json::serializeResponse(xr::Outcome::failure({"SESSION_INVALID"}), "1", json::Version::v2) ==
          R"({"jsonrpc":"2.0","error":{"code":1,"message":"SESSION_INVALID","data":[]},"id":1})");
}

TEST_CASE("JSON failure without a code says INTERNAL_ERROR", "[json][golden]") {
    CHECK(json::serializeResponse(xr::Outcome::failure({}), "1", json::Version::v2) ==
          R"({"jsonrpc":"2.0","error":{"code":1,"message":"INTERNAL_ERROR","data":[]},"id":1})");
    CHECK(json::serializeResponse(xr::Outcome::failure({}), "1", json::Version::v1) ==
          R"({"result":null,"error":["INTERNAL_ERROR"],"id":1})");
}

TEST_CASE("JSON v1 success carries error null", "[json][golden]") {
    auto req = parseOk(R"({"method":"session.login_with_password","params":["root","x"],"id":3})");
    CHECK(req.version == json::Version::v1);
    CHECK(json::serializeResponse(xr::Outcome::ok(xr::Value("OpaqueRef:s")), req) ==
          R"({"result":"OpaqueRef:s","error":null,"id":3})");
}

TEST_CASE("JSON v1 failure carries result null and the error list", "[json][golden]") {
    CHECK(json::serializeResponse(xr::Outcome::failure({"HANDLE_INVALID", "VM", "OpaqueRef:x"}), "3",
                                  json::Version::v1) ==
          R"({"result":null,"error":["HANDLE_INVALID","VM","OpaqueRef:x"],"id":3})");
}

TEST_CASE("JSON response echoes a string id", "[json][golden]") {
    auto req = parseOk(R"({"jsonrpc":"2.0","id":"a\"b","method":"m","params":[]})");
    CHECK(req.idJson == R"("a\"b")");
    CHECK(json::serializeResponse(xr::Outcome::ok(xr::Value(true)), req) ==
          R"({"jsonrpc":"2.0","result":true,"id":"a\"b"})");
}

TEST_CASE("JSON malformed-request body is a v2 error with null id and data", "[json][golden]") {
    CHECK(json::serializeMalformedRequest(xr::ParseError{"bad \"x\""}) ==
          R"({"jsonrpc":"2.0","error":{"code":-32700,"message":"MALFORMED_METHOD_REQUEST","data":["bad \"x\""]},"id":null})");
}

TEST_CASE("JSON values map as rpclib maps them", "[json][golden]") {
    CHECK(encode(xr::Value(std::int64_t{-9223372036854775807LL - 1})) == "-9223372036854775808");
    CHECK(encode(xr::Value(xr::Int32{12})) == "12");
    CHECK(encode(xr::Value(true)) == "true");
    CHECK(encode(xr::Value(xr::Nil{})) == "null");
    CHECK(encode(xr::Value(xr::DateTime{"20250319T04:16:24Z"})) == R"("20250319T04:16:24Z")");
    CHECK(encode(xr::Value(xr::Array{})) == "[]");
    CHECK(encode(xr::Value(xr::Struct{})) == "{}");
    CHECK(encode(xr::Value(xr::Struct{{"z", xr::Value(std::int64_t{1})},
                                      {"a", xr::Value(xr::Array{xr::Value("x"), xr::Value(xr::Nil{})})}})) ==
          R"({"z":1,"a":["x",null]})");
}

TEST_CASE("JSON doubles follow Yojson's shortest round-trip form", "[json][golden]") {
    CHECK(encode(xr::Value(1.0)) == "1.0");
    CHECK(encode(xr::Value(-3.0)) == "-3.0");
    CHECK(encode(xr::Value(60.1)) == "60.1");
    CHECK(encode(xr::Value(0.1 + 0.2)) == "0.30000000000000004");
    CHECK(encode(xr::Value(1e100)) == "1e+100");
    CHECK(encode(xr::Value(std::numeric_limits<double>::quiet_NaN())) == "null");
}

TEST_CASE("JSON strings escape quotes, backslashes and control characters", "[json][golden]") {
    CHECK(encode(xr::Value(std::string("a\"b\\c/\b\f\n\r\t\x01\x7f\x00", 14))) ==
          R"("a\"b\\c/\b\f\n\r\t\u0001\u007f\u0000")");
}

TEST_CASE("JSON strings replace invalid UTF-8 so the output stays valid", "[json][golden]") {
    const std::string out = encode(xr::Value(xr::Struct{{"k\xff", xr::Value("caf\xc3\xa9\xc3")}}));
    CHECK(out == "{\"k\xef\xbf\xbd\":\"caf\xc3\xa9\xef\xbf\xbd\"}");
    CHECK(nlohmann::json::accept(out));
}

TEST_CASE("JSON output of a nested value parses back to the same value", "[json][roundtrip]") {
    xr::Value v(xr::Struct{{"events", xr::Value(xr::Array{xr::Value(xr::Struct{{"id", xr::Value("5")}})})},
                           {"valid_ref_counts", xr::Value(xr::Struct{{"vm", xr::Value(std::int64_t{2})}})},
                           {"token", xr::Value("7,0")},
                           {"f", xr::Value(0.25)},
                           {"b", xr::Value(false)},
                           {"n", xr::Value(xr::Nil{})}});
    CHECK(parseParam(encode(v)) == v);
}

// ---------------------------------------------------------------- requests

TEST_CASE("JSON parser accepts npm xen-api's requests", "[json][clients]") {
    auto login = parseOk(R"({"id":0,"jsonrpc":"2.0","method":"session.login_with_password","params":["root","secret"]})");
    CHECK(login.version == json::Version::v2);
    CHECK(login.idJson == "0");
    CHECK(login.call == xr::Call{"session.login_with_password", {xr::Value("root"), xr::Value("secret")}});

    auto plugin = parseOk(R"({"id":0,"jsonrpc":"2.0","method":"VM.call_plugin","params":["OpaqueRef:004f","OpaqueRef:8007","guest-agent-operation","request-rdp-on",{}]})");
    CHECK(plugin.call.params.size() == 5);
    CHECK(plugin.call.params[4] == xr::Value(xr::Struct{}));

    auto events = parseOk(R"({"id":0,"jsonrpc":"2.0","method":"event.from","params":["OpaqueRef:004f",["role","pool","VM"],"00000000000000000007,00000000000000000000",60.1]})");
    CHECK(events.call.params[1] == xr::Value(xr::Array{xr::Value("role"), xr::Value("pool"), xr::Value("VM")}));
    CHECK(events.call.params[3] == xr::Value(60.1));
}

TEST_CASE("JSON parser accepts XenCenter's key order", "[json][clients]") {
    auto req = parseOk(R"({"id":12,"method":"host.get_servertime","params":["OpaqueRef:s","OpaqueRef:h"],"jsonrpc":"2.0"})");
    CHECK(req.version == json::Version::v2);
    CHECK(req.idJson == "12");
    CHECK(req.call.method == "host.get_servertime");
}

TEST_CASE("JSON v2 params may be omitted, null or a single object", "[json][requests]") {
    CHECK(parseOk(R"({"jsonrpc":"2.0","id":1,"method":"m"})").call.params.empty());
    CHECK(parseOk(R"({"jsonrpc":"2.0","id":1,"method":"m","params":null})").call.params.empty());
    auto req = parseOk(R"({"jsonrpc":"2.0","id":1,"method":"m","params":{"a":1}})");
    CHECK(req.call.params == xr::Array{xr::Value(xr::Struct{{"a", xr::Value(std::int64_t{1})}})});
}

TEST_CASE("JSON v1 requires params to be an array", "[json][requests]") {
    CHECK(rejected(R"({"id":1,"method":"m"})"));
    CHECK(rejected(R"({"id":1,"method":"m","params":{"a":1}})"));
    CHECK(rejected(R"({"id":1,"method":"m","params":null})"));
}

TEST_CASE("JSON parser rejects params that are neither array, object nor null", "[json][requests]") {
    CHECK(rejected(R"({"jsonrpc":"2.0","id":1,"method":"m","params":"x"})"));
}

TEST_CASE("JSON parser requires an integer or string id", "[json][requests]") {
    CHECK(rejected(R"({"jsonrpc":"2.0","method":"m","params":[]})"));
    CHECK(rejected(R"({"jsonrpc":"2.0","id":null,"method":"m","params":[]})"));
    CHECK(rejected(R"({"jsonrpc":"2.0","id":1.5,"method":"m","params":[]})"));
    CHECK(rejected(R"({"jsonrpc":"2.0","id":true,"method":"m","params":[]})"));
    CHECK(rejected(R"({"jsonrpc":"2.0","id":[1],"method":"m","params":[]})"));
    CHECK(parseOk(R"({"jsonrpc":"2.0","id":-4,"method":"m","params":[]})").idJson == "-4");
}

TEST_CASE("JSON parser requires a string method and jsonrpc 2.0 when present", "[json][requests]") {
    CHECK(rejected(R"({"jsonrpc":"2.0","id":1,"params":[]})"));
    CHECK(rejected(R"({"jsonrpc":"2.0","id":1,"method":5,"params":[]})"));
    CHECK(rejected(R"({"jsonrpc":"1.0","id":1,"method":"m","params":[]})"));
    CHECK(rejected(R"({"jsonrpc":2,"id":1,"method":"m","params":[]})"));
}

TEST_CASE("JSON parser keeps object keys in document order", "[json][types]") {
    CHECK(parseParam(R"({"z":"1","a":2,"m":null})") ==
          xr::Value(xr::Struct{{"z", xr::Value("1")}, {"a", xr::Value(std::int64_t{2})}, {"m", xr::Value(xr::Nil{})}}));
}

TEST_CASE("JSON parser lets a repeated key keep its place and take the last value", "[json][types]") {
    CHECK(parseParam(R"({"k":1,"j":2,"k":3})") ==
          xr::Value(xr::Struct{{"k", xr::Value(std::int64_t{3})}, {"j", xr::Value(std::int64_t{2})}}));
    std::string big = "{";
    for (int i = 0; i < 20; ++i) big += "\"k" + std::to_string(i) + "\":" + std::to_string(i) + ",";
    big += "\"k0\":99}";
    xr::Value v = parseParam(big);
    const auto& members = *v.getIf<xr::Struct>();
    REQUIRE(members.size() == 20);
    CHECK(members.front() == std::pair<std::string, xr::Value>{"k0", xr::Value(std::int64_t{99})});
}

TEST_CASE("JSON parser maps scalars to Value types", "[json][types]") {
    CHECK(parseParam("9223372036854775807") == xr::Value(std::int64_t{9223372036854775807LL}));
    CHECK(parseParam("-9223372036854775808") == xr::Value(std::int64_t{-9223372036854775807LL - 1}));
    CHECK(parseParam("2.5") == xr::Value(2.5));
    CHECK(parseParam("1e2") == xr::Value(100.0));
    CHECK(parseParam("false") == xr::Value(false));
    CHECK(parseParam("null") == xr::Value(xr::Nil{}));
    CHECK(parseParam(R"("\u00e9\ud83d\ude00")") == xr::Value("\xc3\xa9\xf0\x9f\x98\x80"));
}

// ---------------------------------------------------------------- bad input

TEST_CASE("JSON parser rejects integers outside int64", "[json][bad]") {
    CHECK(rejected(R"({"jsonrpc":"2.0","id":1,"method":"m","params":[9223372036854775808]})"));
    CHECK(rejected(R"({"jsonrpc":"2.0","id":1,"method":"m","params":[-9223372036854775809]})"));
    CHECK(rejected(R"({"jsonrpc":"2.0","id":1,"method":"m","params":[123456789012345678901234567890]})"));
    CHECK(rejected(R"({"jsonrpc":"2.0","id":18446744073709551615,"method":"m","params":[]})"));
}

TEST_CASE("JSON parser rejects malformed documents", "[json][bad]") {
    CHECK(rejected(""));
    CHECK(rejected("{"));
    CHECK(rejected(R"({"jsonrpc":"2.0","id":1,"method":"m","params":[]} x)"));
    CHECK(rejected(R"([{"jsonrpc":"2.0","id":1,"method":"m","params":[]}])"));
    CHECK(rejected(R"("just a string")"));
    CHECK(rejected(R"({"jsonrpc":"2.0","id":1,"method":"m","params":[1,]})"));
    CHECK(rejected(R"({"jsonrpc":"2.0","id":1,"method":"m","params":[1e400]})"));
}

TEST_CASE("JSON parser rejects invalid UTF-8 in strings", "[json][bad]") {
    CHECK(rejected("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"m\",\"params\":[\"a\xff\"]}"));
    CHECK(rejected(R"({"jsonrpc":"2.0","id":1,"method":"m","params":["\ud800"]})"));
}

TEST_CASE("JSON parser accepts 63 nested arrays in params and rejects deeper", "[json][bad]") {
    // The request object and the params array count as two levels.
    CHECK(json::parseRequest(R"({"jsonrpc":"2.0","id":1,"method":"m","params":[)" + nestedArrays(62) + "]}").ok());
    CHECK(rejected(R"({"jsonrpc":"2.0","id":1,"method":"m","params":[)" + nestedArrays(63) + "]}"));
}

TEST_CASE("JSON parser rejects a huge nesting without exhausting the stack", "[json][bad]") {
    json::JsonLimits limits{16 * 1024 * 1024, 64};
    auto result = json::parseRequest(std::string(500000, '[') + std::string(500000, ']'), limits);
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().message.find("nesting") != std::string::npos);
}

TEST_CASE("JSON parser rejects a body above the size limit", "[json][bad]") {
    const std::string body = R"({"jsonrpc":"2.0","id":1,"method":"m","params":[")" + std::string(2000, 'x') + "\"]}";
    CHECK(json::parseRequest(body).ok());
    CHECK_FALSE(json::parseRequest(body, json::JsonLimits{1000, 64}).ok());
}
