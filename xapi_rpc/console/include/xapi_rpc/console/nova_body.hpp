#pragma once
/// The bodies of Nova's RDP console API: which format to answer in, the
/// request bodies (JSON, and the few XML element forms of the 2014 API), and
/// the answers and faults in both formats.
///
/// Pure functions: any thread, no shared state.  Parsing never throws on bad
/// input (it returns a BodyError whose message may be shown to the client);
/// only std::bad_alloc escapes.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace xenrdp::xapi_rpc::console {

/// The answer's syntax and the media type naming it: Nova spoke JSON and XML
/// under their plain types and its own application/vnd.openstack.compute+json
/// and +xml, and answered with the type the client asked for.
enum class WireFormat { Json, Xml, VendorJson, VendorXml };

[[nodiscard]] constexpr bool isXml(WireFormat format) noexcept
{
    return format == WireFormat::Xml || format == WireFormat::VendorXml;
}

/// The answer's format.  From Accept, when it makes one of Nova's types (or
/// text/xml) acceptable: the highest q wins, q=0 excludes, a type takes the
/// q of the most specific range matching it (exact, type/*, */*); a tie
/// goes to the request body's syntax, then to Nova's order (application/json,
/// the vendor JSON type, application/xml, the vendor XML type).  Otherwise
/// the request's Content-Type (one of those types, or text/xml); otherwise
/// JSON.  Malformed ranges in Accept are ignored.
[[nodiscard]] WireFormat responseFormat(std::optional<std::string_view> accept,
                                        std::optional<std::string_view> contentType) noexcept;

/// The answer's Content-Type: "application/json", "application/xml" or the
/// vendor type.
[[nodiscard]] std::string_view contentTypeOf(WireFormat format) noexcept;

/// One action: the single top-level key (JSON) or root element (XML), and
/// its string fields (JSON object members, XML attributes).  `null` is set
/// for a JSON null value; an XML element without attributes and a JSON {}
/// both give no fields.
struct ActionBody {
    std::string name;
    bool null = false;
    std::map<std::string, std::string> fields;
};

struct BodyError {
    std::string message;
};

using ParsedBody = std::variant<ActionBody, BodyError>;

/// A JSON body: an object with exactly one member whose value is null or an
/// object of string members.
[[nodiscard]] ParsedBody parseJsonAction(std::string_view body);
/// An XML body: an optional XML declaration, then one empty element with
/// attributes (`<a k="v"/>` or `<a k="v"></a>`), whitespace around.  No
/// DOCTYPE, entity declarations, comments, processing instructions, CDATA or
/// child elements; only the five predefined entity references.  Namespace
/// declarations (xmlns, xmlns:*) are accepted and ignored.
[[nodiscard]] ParsedBody parseXmlAction(std::string_view body);
/// Picks the parser from the request's Content-Type (application/json and
/// Nova's vendor JSON type; application/xml, text/xml and the vendor XML
/// type; parameters such as charset ignored); without one, a body whose
/// first non-blank character is '<' is XML.  Any other Content-Type is a
/// BodyError ("Unsupported Content-Type").
[[nodiscard]] ParsedBody parseActionBody(std::string_view body,
                                         std::optional<std::string_view> contentType);

/// What a console auth token resolves to.
struct ConnectInfo {
    std::string instanceUuid;
    std::string host;
    std::uint16_t port = 0;
    std::string internalAccessPath;
};

/// {"console": {"type", "url"}} or <console><type/><url/></console>.
[[nodiscard]] std::string renderConsoleUrl(WireFormat format, std::string_view type, std::string_view url);
/// {"remote_console": {"protocol", "type", "url"}} or its XML form.
[[nodiscard]] std::string renderRemoteConsole(WireFormat format, std::string_view protocol,
                                              std::string_view type, std::string_view url);
/// {"console": {"instance_uuid", "host", "port" (integer), "internal_access_path"}}.
[[nodiscard]] std::string renderConnectInfo(WireFormat format, const ConnectInfo& info);

/// Nova's fault name for a status: 400 badRequest, 401 unauthorized,
/// 403 forbidden, 404 itemNotFound, 405 badMethod, 409 conflictingRequest,
/// 501 notImplemented, anything else computeFault.
[[nodiscard]] std::string_view faultName(unsigned status) noexcept;
/// {"<fault>": {"code": N, "message": "..."}}, or in XML
/// <fault code="N" xmlns="http://docs.openstack.org/compute/api/v1.1"><message>...</message></fault>
/// as Nova's v1.1 XML serializer wrote it.
[[nodiscard]] std::string renderFault(WireFormat format, unsigned status, std::string_view message);

}  // namespace xenrdp::xapi_rpc::console
