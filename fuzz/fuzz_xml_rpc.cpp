// libFuzzer target: an XML-RPC request body parsed as xapi_rpc::xml::parseCall
// does for POST /, then (if it parses) dispatched against the in-memory world
// and the outcome serialized back, as the daemon answers it.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <xapi_rpc/codec/xml_rpc.hpp>

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    using namespace xenrdp::xapi_rpc;
    const std::string_view body(reinterpret_cast<const char*>(data), size);
    auto parsed = xml::parseCall(body);
    if (!parsed) return 0;
    // The parser must read back what the writer makes of what it accepted.
    // The comparison is of the written forms: the writer spells an int64 as
    // xapi does, as an untyped string, so an <i8> comes back as a string.
    const std::string written = xml::serializeCall(parsed.value());
    const auto again = xml::parseCall(written);
    if (!again || xml::serializeCall(again.value()) != written) __builtin_trap();
    const Outcome outcome = xenrdp::fuzz::dispatch(std::move(parsed).value());
    (void)xml::serializeResponse(outcome);
    return 0;
}
