// libFuzzer target: the Nova console action bodies (os-getRDPConsole,
// remote-consoles) in JSON and XML.  The first byte picks the parser, as a
// Content-Type would; the rest, read as Accept and Content-Type headers,
// picks the answer format; whatever parses is echoed through the renderers
// the handler uses for its answers.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <variant>

#include <xapi_rpc/console/nova_body.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    using namespace xenrdp::xapi_rpc::console;
    if (size == 0) return 0;
    const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
    ParsedBody parsed;
    switch (data[0] % 3) {
    case 0: parsed = parseJsonAction(body); break;
    case 1: parsed = parseXmlAction(body); break;
    default: {
        constexpr std::string_view xmlType = "application/xml";
        parsed = parseActionBody(body, xmlType);
        break;
    }
    }
    // The same bytes as client headers: Accept (q-values) and Content-Type.
    const WireFormat format = responseFormat(body, body);
    (void)contentTypeOf(format);
    if (const auto* action = std::get_if<ActionBody>(&parsed)) {
        const auto type = action->fields.find("type");
        const std::string_view typeText =
            type == action->fields.end() ? std::string_view() : std::string_view(type->second);
        (void)renderConsoleUrl(format, typeText, action->name);
        (void)renderRemoteConsole(format, action->name, typeText, "rdp://x");
    } else {
        (void)renderFault(format, 400, std::get<BodyError>(parsed).message);
    }
    return 0;
}
