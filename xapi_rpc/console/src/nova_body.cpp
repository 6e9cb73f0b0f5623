#include <xapi_rpc/console/nova_body.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <vector>

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

std::string_view trim(std::string_view s)
{
    const auto first = s.find_first_not_of(" \t");
    if (first == std::string_view::npos) return {};
    const auto last = s.find_last_not_of(" \t");
    return s.substr(first, last - first + 1);
}

/// The media types Nova spoke, in its order of preference on a tie (its
/// get_supported_content_types()), and text/xml, which older clients send.
struct MediaType {
    std::string_view name;
    WireFormat format;
};
constexpr std::array<MediaType, 5> kMediaTypes{{
    {"application/json", WireFormat::Json},
    {"application/vnd.openstack.compute+json", WireFormat::VendorJson},
    {"application/xml", WireFormat::Xml},
    {"application/vnd.openstack.compute+xml", WireFormat::VendorXml},
    {"text/xml", WireFormat::Xml},
}};

/// The format a Content-Type names ("type/subtype", parameters ignored).
std::optional<WireFormat> formatOfContentType(std::string_view contentType)
{
    const std::string type = lower(trim(contentType.substr(0, contentType.find(';'))));
    for (const auto& m : kMediaTypes)
        if (type == m.name) return m.format;
    return std::nullopt;
}

/// One media range of an Accept header: "type/subtype" (either may be "*")
/// and its quality in thousandths.
struct AcceptRange {
    std::string type;
    std::string subtype;
    int quality = 1000;
};

/// "0", "0.5", "1.000": thousandths, or -1 when not a qvalue (RFC 9110 12.4.2).
int parseQuality(std::string_view q)
{
    if (q.empty() || (q[0] != '0' && q[0] != '1')) return -1;
    int whole = q[0] - '0';
    int thousandths = 0;
    if (q.size() > 1) {
        if (q[1] != '.' || q.size() > 5) return -1;
        int scale = 100;
        for (char c : q.substr(2)) {
            if (c < '0' || c > '9') return -1;
            thousandths += (c - '0') * scale;
            scale /= 10;
        }
    }
    const int value = whole * 1000 + thousandths;
    return value > 1000 ? -1 : value;
}

/// The ranges of an Accept header; malformed ones are left out.
std::vector<AcceptRange> parseAccept(std::string_view header)
{
    std::vector<AcceptRange> ranges;
    while (!header.empty()) {
        const auto comma = header.find(',');
        std::string_view item = header.substr(0, comma);
        header = comma == std::string_view::npos ? std::string_view{} : header.substr(comma + 1);
        const auto semi = item.find(';');
        const std::string range = lower(trim(item.substr(0, semi)));
        const auto slash = range.find('/');
        if (range.empty() || slash == std::string::npos || slash == 0 || slash + 1 == range.size()) continue;
        AcceptRange r{range.substr(0, slash), range.substr(slash + 1)};
        if (r.type == "*" && r.subtype != "*") continue;
        bool good = true;
        std::string_view params = semi == std::string_view::npos ? std::string_view{} : item.substr(semi + 1);
        while (!params.empty()) {
            const auto next = params.find(';');
            const std::string_view param = trim(params.substr(0, next));
            params = next == std::string_view::npos ? std::string_view{} : params.substr(next + 1);
            if (param.size() >= 2 && (param[0] == 'q' || param[0] == 'Q') && param[1] == '=') {
                r.quality = parseQuality(trim(param.substr(2)));
                good = r.quality >= 0;
                break;  // what follows q= are accept-extensions
            }
        }
        if (good) ranges.push_back(std::move(r));
    }
    return ranges;
}

/// The quality `ranges` give `mediaType`: that of the most specific range
/// matching it (exact, then type/*, then */*), or -1 when none does.
int qualityOf(const std::vector<AcceptRange>& ranges, std::string_view mediaType)
{
    const auto slash = mediaType.find('/');
    const std::string_view type = mediaType.substr(0, slash);
    const std::string_view subtype = mediaType.substr(slash + 1);
    int best = -1;
    int bestSpecificity = -1;
    for (const auto& r : ranges) {
        int specificity = -1;
        if (r.type == type && r.subtype == subtype) specificity = 2;
        else if (r.type == type && r.subtype == "*") specificity = 1;
        else if (r.type == "*") specificity = 0;
        if (specificity > bestSpecificity) {
            bestSpecificity = specificity;
            best = r.quality;
        }
    }
    return best;
}

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
    try {
        const std::optional<WireFormat> request = contentType ? formatOfContentType(*contentType) : std::nullopt;
        const bool requestIsXml = isXml(request.value_or(WireFormat::Json));
        if (accept) {
            // The highest quality wins (q=0: not acceptable); on a tie, the
            // request body's own format, then Nova's order (JSON first).
            const auto ranges = parseAccept(*accept);
            std::optional<WireFormat> chosen;
            int bestQuality = 0;
            bool bestIsRequestFamily = false;
            for (const auto& m : kMediaTypes) {
                const int q = qualityOf(ranges, m.name);
                // Same family (XML or JSON) as the request body, if it said.
                const bool requestFamily = request.has_value() && requestIsXml == isXml(m.format);
                if (q <= 0) continue;
                if (!chosen || q > bestQuality || (q == bestQuality && requestFamily && !bestIsRequestFamily)) {
                    chosen = m.format;
                    bestQuality = q;
                    bestIsRequestFamily = requestFamily;
                }
            }
            if (chosen) return *chosen;
        }
        if (request) return *request;
    } catch (...) {  // only bad_alloc: answer in JSON
    }
    return WireFormat::Json;
}

std::string_view contentTypeOf(WireFormat format) noexcept
{
    // A format's first entry in kMediaTypes is the type answers carry.
    for (const auto& m : kMediaTypes)
        if (m.format == format) return m.name;
    return "application/json";
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
        const auto format = formatOfContentType(*contentType);
        if (!format) return BodyError{"Unsupported Content-Type"};
        return isXml(*format) ? parseXmlAction(body) : parseJsonAction(body);
    }
    const auto first = body.find_first_not_of(" \t\r\n");
    if (first != std::string_view::npos && body[first] == '<') return parseXmlAction(body);
    return parseJsonAction(body);
}

std::string renderConsoleUrl(WireFormat format, std::string_view type, std::string_view url)
{
    if (isXml(format))
        return std::string(kXmlDeclaration) + "<console>" + xmlField("type", type) + xmlField("url", url) +
               "</console>";
    json j;
    j["console"] = {{"type", type}, {"url", url}};
    return dumpJson(j);
}

std::string renderRemoteConsole(WireFormat format, std::string_view protocol, std::string_view type,
                                std::string_view url)
{
    if (isXml(format))
        return std::string(kXmlDeclaration) + "<remote_console>" + xmlField("protocol", protocol) +
               xmlField("type", type) + xmlField("url", url) + "</remote_console>";
    json j;
    j["remote_console"] = {{"protocol", protocol}, {"type", type}, {"url", url}};
    return dumpJson(j);
}

std::string renderConnectInfo(WireFormat format, const ConnectInfo& info)
{
    if (isXml(format))
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
    if (isXml(format))
        return std::string(kXmlDeclaration) + "<" + name + " code=\"" + std::to_string(status) +
               "\" xmlns=\"http://docs.openstack.org/compute/api/v1.1\">" + xmlField("message", message) + "</" +
               name + ">";
    json j;
    j[name] = {{"code", status}, {"message", message}};
    return dumpJson(j);
}

}  // namespace xenrdp::xapi_rpc::console
