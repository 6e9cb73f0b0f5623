// JSON-RPC writer: a direct string writer rather than a nlohmann tree, since
// responses (get_all_records, event.from) are on the hot path. Key order and
// the presence/absence of "error"/"result" follow rpclib's jsonrpc.ml.
#include <xapi_rpc/codec/json_rpc.hpp>

#include <array>
#include <type_traits>

#include "text_util.hpp"

namespace xenrdp::xapi_rpc::json {

namespace {

constexpr std::array<char, 16> hexDigits = {'0', '1', '2', '3', '4', '5', '6', '7',
                                            '8', '9', 'a', 'b', 'c', 'd', 'e', 'f'};

void appendControl(std::string& out, unsigned char c) {
    out += "\\u00";
    out += hexDigits[c >> 4U];
    out += hexDigits[c & 0x0FU];
}

// Printable ASCII other than the two characters JSON escapes.
bool isPlainJsonByte(unsigned char c) noexcept {
    return c >= 0x20 && c < 0x7F && c != '"' && c != '\\';
}

}  // namespace

void appendString(std::string& out, std::string_view text) {
    out += '"';
    std::size_t i = 0;
    while (i < text.size()) {
        // Copy the longest run that needs no escaping in one append.
        std::size_t run = i;
        while (run < text.size() && isPlainJsonByte(static_cast<unsigned char>(text[run]))) ++run;
        if (run > i) {
            out.append(text.substr(i, run - i));
            i = run;
            continue;
        }
        const auto c = static_cast<unsigned char>(text[i]);
        if (c < 0x80) {
            switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\b': out += "\\b"; break;
            case '\f': out += "\\f"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (c < 0x20 || c == 0x7F) {
                    appendControl(out, c);  // Yojson escapes DEL too
                } else {
                    out += static_cast<char>(c);
                }
                break;
            }
            ++i;
            continue;
        }
        const std::size_t len = detail::utf8SequenceLength(text, i);
        if (len == 0) {
            out += detail::replacementChar;
            ++i;
        } else {
            out.append(text.substr(i, len));
            i += len;
        }
    }
    out += '"';
}

void appendValue(std::string& out, const Value& value) {
    std::visit(
        [&out](const auto& v) {  // synchronous visitor: captures the output by reference
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, Nil>) {
                out += "null";
            } else if constexpr (std::is_same_v<T, std::string>) {
                appendString(out, v);
            } else if constexpr (std::is_same_v<T, std::int64_t>) {
                detail::appendInt(out, v);
            } else if constexpr (std::is_same_v<T, Int32>) {
                detail::appendInt(out, v.value);
            } else if constexpr (std::is_same_v<T, bool>) {
                out += v ? "true" : "false";
            } else if constexpr (std::is_same_v<T, double>) {
                detail::appendDoubleJson(out, v);
            } else if constexpr (std::is_same_v<T, DateTime>) {
                appendString(out, v.text);
            } else if constexpr (std::is_same_v<T, Array>) {
                out += '[';
                bool first = true;
                for (const Value& item : v) {
                    if (!first) out += ',';
                    first = false;
                    appendValue(out, item);
                }
                out += ']';
            } else {
                static_assert(std::is_same_v<T, Struct>);
                out += '{';
                bool first = true;
                for (const auto& [name, member] : v) {
                    if (!first) out += ',';
                    first = false;
                    appendString(out, name);
                    out += ':';
                    appendValue(out, member);
                }
                out += '}';
            }
        },
        value.storage());
}

std::string serializeResponse(const Outcome& outcome, std::string_view idJson, Version version) {
    // A failure without a code is a dispatcher bug; clients still need one.
    const bool noCode = outcome.error.empty();
    const std::string_view code = noCode ? std::string_view("INTERNAL_ERROR") : outcome.error.front();
    std::string out;
    out.reserve(128);
    if (version == Version::v2) {
        out += "{\"jsonrpc\":\"2.0\",";
        if (outcome.success) {
            out += "\"result\":";
            appendValue(out, outcome.result);
        } else {
            out += "\"error\":{\"code\":1,\"message\":";
            appendString(out, code);
            out += ",\"data\":[";
            for (std::size_t i = 1; i < outcome.error.size(); ++i) {
                if (i > 1) out += ',';
                appendString(out, outcome.error[i]);
            }
            out += "]}";
        }
    } else if (outcome.success) {
        out += "{\"result\":";
        appendValue(out, outcome.result);
        out += ",\"error\":null";
    } else {
        out += "{\"result\":null,\"error\":[";
        appendString(out, code);
        for (std::size_t i = 1; i < outcome.error.size(); ++i) {
            out += ',';
            appendString(out, outcome.error[i]);
        }
        out += ']';
    }
    out += ",\"id\":";
    out += idJson.empty() ? std::string_view("null") : idJson;
    out += '}';
    return out;
}

std::string serializeResponse(const Outcome& outcome, const JsonRequest& request) {
    return serializeResponse(outcome, request.idJson, request.version);
}

std::string serializeMalformedRequest(const ParseError& error) {
    std::string out = "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32700,"
                      "\"message\":\"MALFORMED_METHOD_REQUEST\",\"data\":[";
    appendString(out, error.message);
    out += "]},\"id\":null}";
    return out;
}

}  // namespace xenrdp::xapi_rpc::json
