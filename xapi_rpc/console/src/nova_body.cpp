#include <xapi_rpc/console/nova_body.hpp>

#include <algorithm>
#include <cctype>

#include <nlohmann/json.hpp>

#include "strict_xml.hpp"

namespace xenrdp::xapi_rpc::console {
namespace {

using nlohmann::json;

std::string lower(std::string_view s)
{
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

bool namesXml(std::string_view mediaType)
{
    const std::string m = lower(mediaType);
    return m.find("application/xml") != std::string::npos || m.find("text/xml") != std::string::npos;
}

bool namesJson(std::string_view mediaType) { return lower(mediaType).find("application/json") != std::string::npos; }

constexpr std::string_view kXmlDeclaration = "<?xml version='1.0' encoding='UTF-8'?>\n";

/// JSON text; dump() with replacement of invalid UTF-8 so a guest-written
/// string can never make rendering throw.
std::string dumpJson(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

/// Client text quoted in a message, cut short so a huge value is not echoed.
std::string clip(std::string text)
{
    if (text.size() > 64) text = text.substr(0, 64) + "...";
    return text;
}

std::string xmlField(std::string_view name, std::string_view value)
{
    return "<" + std::string(name) + ">" + detail::xmlEscape(value) + "</" + std::string(name) + ">";
}

}  // namespace

WireFormat responseFormat(std::optional<std::string_view> accept,
                          std::optional<std::string_view> contentType) noexcept
{
    if (accept) {
        const std::string a = lower(*accept);
        const auto xml = std::min(a.find("application/xml"), a.find("text/xml"));
        const auto js = a.find("application/json");
        if (xml != std::string::npos || js != std::string::npos)
            return xml < js ? WireFormat::Xml : WireFormat::Json;
    }
    if (contentType && namesXml(*contentType)) return WireFormat::Xml;
    return WireFormat::Json;
}

std::string_view contentTypeOf(WireFormat format) noexcept
{
    return format == WireFormat::Xml ? "application/xml" : "application/json";
}

namespace {

/// True when arrays/objects nest deeper than `limit`.  Valid bodies nest
/// two deep; refusing deep ones up front keeps a hostile body from costing
/// a parse (and a recursive teardown) of a million levels.
bool nestsDeeper(std::string_view body, int limit)
{
    int depth = 0;
    bool inString = false;
    bool escaped = false;
    for (char c : body) {
        if (inString) {
            if (escaped) escaped = false;
            else if (c == '\\') escaped = true;
            else if (c == '"') inString = false;
            continue;
        }
        if (c == '"') inString = true;
        else if (c == '{' || c == '[') {
            if (++depth > limit) return true;
        } else if (c == '}' || c == ']') --depth;
    }
    return false;
}

}  // namespace

ParsedBody parseJsonAction(std::string_view body)
{
    if (nestsDeeper(body, 16)) return BodyError{"Malformed request body"};
    const json doc = json::parse(body.begin(), body.end(), nullptr, false);
    if (doc.is_discarded()) return BodyError{"Malformed request body"};
    if (!doc.is_object() || doc.size() != 1)
        return BodyError{"Invalid input: the body must be an object with exactly one action"};
    ActionBody out;
    const auto first = doc.begin();
    const std::string& name = first.key();
    const json& value = first.value();
    out.name = name;
    if (value.is_null()) {
        out.null = true;
        return out;
    }
    if (!value.is_object())
        return BodyError{"Invalid input for field/attribute " + clip(name) + ". Value: " + clip(dumpJson(value)) +
                         ". It is not of type 'object'"};
    for (auto it = value.begin(); it != value.end(); ++it) {
        const std::string& key = it.key();
        const json& member = it.value();
        if (!member.is_string())
            return BodyError{"Invalid input for field/attribute " + clip(key) + ". Value: " + clip(dumpJson(member)) +
                             ". It is not of type 'string'"};
        out.fields.emplace(key, member.get<std::string>());
    }
    return out;
}

ParsedBody parseXmlAction(std::string_view body)
{
    auto parsed = detail::parseSingleElement(body);
    if (auto* error = std::get_if<std::string>(&parsed)) return BodyError{"Cannot understand XML: " + *error};
    auto& element = std::get<detail::XmlElement>(parsed);
    ActionBody out;
    out.name = std::move(element.name);
    out.fields = std::move(element.attributes);
    return out;
}

ParsedBody parseActionBody(std::string_view body, std::optional<std::string_view> contentType)
{
    if (contentType && !contentType->empty()) {
        if (namesXml(*contentType)) return parseXmlAction(body);
        if (namesJson(*contentType)) return parseJsonAction(body);
        return BodyError{"Unsupported Content-Type"};
    }
    const auto first = body.find_first_not_of(" \t\r\n");
    if (first != std::string_view::npos && body[first] == '<') return parseXmlAction(body);
    return parseJsonAction(body);
}

std::string renderConsoleUrl(WireFormat format, std::string_view type, std::string_view url)
{
    if (format == WireFormat::Xml)
        return std::string(kXmlDeclaration) + "<console>" + xmlField("type", type) + xmlField("url", url) +
               "</console>";
    json j;
    j["console"] = {{"type", type}, {"url", url}};
    return dumpJson(j);
}

std::string renderRemoteConsole(WireFormat format, std::string_view protocol, std::string_view type,
                                std::string_view url)
{
    if (format == WireFormat::Xml)
        return std::string(kXmlDeclaration) + "<remote_console>" + xmlField("protocol", protocol) +
               xmlField("type", type) + xmlField("url", url) + "</remote_console>";
    json j;
    j["remote_console"] = {{"protocol", protocol}, {"type", type}, {"url", url}};
    return dumpJson(j);
}

std::string renderConnectInfo(WireFormat format, const ConnectInfo& info)
{
    if (format == WireFormat::Xml)
        return std::string(kXmlDeclaration) + "<console>" + xmlField("instance_uuid", info.instanceUuid) +
               xmlField("host", info.host) + xmlField("port", std::to_string(info.port)) +
               xmlField("internal_access_path", info.internalAccessPath) + "</console>";
    json j;
    j["console"] = {{"instance_uuid", info.instanceUuid},
                    {"host", info.host},
                    {"port", info.port},
                    {"internal_access_path", info.internalAccessPath}};
    return dumpJson(j);
}

std::string_view faultName(unsigned status) noexcept
{
    switch (status) {
    case 400: return "badRequest";
    case 401: return "unauthorized";
    case 403: return "forbidden";
    case 404: return "itemNotFound";
    case 405: return "badMethod";
    case 409: return "conflictingRequest";
    case 501: return "notImplemented";
    default: return "computeFault";
    }
}

std::string renderFault(WireFormat format, unsigned status, std::string_view message)
{
    const std::string name(faultName(status));
    if (format == WireFormat::Xml)
        return std::string(kXmlDeclaration) + "<" + name + " code=\"" + std::to_string(status) +
               "\" xmlns=\"http://docs.openstack.org/compute/api/v1.1\">" + xmlField("message", message) + "</" +
               name + ">";
    json j;
    j[name] = {{"code", status}, {"message", message}};
    return dumpJson(j);
}

}  // namespace xenrdp::xapi_rpc::console
