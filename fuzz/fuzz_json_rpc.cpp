// libFuzzer target: a JSON-RPC body (POST /jsonrpc) through
// xapi_rpc::json::parseRequest; a request that parses is dispatched against
// the in-memory world and answered in the version it was asked in.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <xapi_rpc/codec/json_rpc.hpp>

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    using namespace xenrdp::xapi_rpc;
    const std::string_view body(reinterpret_cast<const char*>(data), size);
    auto parsed = json::parseRequest(body);
    if (!parsed) {
        (void)json::serializeMalformedRequest(parsed.error());
        return 0;
    }
    json::JsonRequest request = std::move(parsed).value();
    const Outcome outcome = xenrdp::fuzz::dispatch(request.call);
    (void)json::serializeResponse(outcome, request);
    return 0;
}
