// XML-RPC writer. Hand-written because xapi's encoding is not xmlrpc-c's:
// xmlrpc-c adds <string> tags and CRLF line breaks, and the npm xen-api
// client fails on both (reference xenapi-clients.md §0.6).
#include <xapi_rpc/codec/xml_rpc.hpp>

#include <type_traits>

#include "text_util.hpp"

namespace xenrdp::xapi_rpc::xml {

namespace {

constexpr std::string_view xmlDecl = "<?xml version=\"1.0\"?>";

// Printable ASCII that rpclib writes unchanged.
bool isPlainXmlByte(unsigned char c) noexcept {
    return c >= 0x20 && c < 0x80 && c != '&' && c != '<' && c != '>' && c != '"';
}

// rpclib's escaping: & < > " become entities, other control bytes except
// tab, LF and CR are dropped (they are not allowed in XML 1.0). Invalid UTF-8
// is repaired so that strict parsers accept the document.
void appendEscaped(std::string& out, std::string_view text) {
    std::size_t i = 0;
    while (i < text.size()) {
        // Copy the longest run that needs no escaping in one append.
        std::size_t run = i;
        while (run < text.size() && isPlainXmlByte(static_cast<unsigned char>(text[run]))) ++run;
        if (run > i) {
            out.append(text.substr(i, run - i));
            i = run;
            continue;
        }
        const auto c = static_cast<unsigned char>(text[i]);
        if (c < 0x80) {
            switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            case '\t':
            case '\n':
            case '\r': out += static_cast<char>(c); break;
            default:
                if (c >= 0x20) out += static_cast<char>(c);
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
}

void appendMember(std::string& out, std::string_view name, const Value& value) {
    out += "<member><name>";
    appendEscaped(out, name);
    out += "</name>";
    appendValue(out, value);
    out += "</member>";
}

std::string wrapInResponse(const Value& param) {
    std::string out;
    out.reserve(256);
    out += xmlDecl;
    out += "<methodResponse><params><param>";
    appendValue(out, param);
    out += "</param></params></methodResponse>";
    return out;
}

}  // namespace

void appendValue(std::string& out, const Value& value) {
    std::visit(
        [&out](const auto& v) {  // synchronous visitor: captures the output by reference
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, Nil>) {
                out += "<value><nil/></value>";
            } else if constexpr (std::is_same_v<T, std::string>) {
                out += "<value>";
                appendEscaped(out, v);
                out += "</value>";
            } else if constexpr (std::is_same_v<T, std::int64_t>) {
                out += "<value>";
                detail::appendInt(out, v);
                out += "</value>";
            } else if constexpr (std::is_same_v<T, Int32>) {
                out += "<value><i4>";
                detail::appendInt(out, v.value);
                out += "</i4></value>";
            } else if constexpr (std::is_same_v<T, bool>) {
                out += v ? "<value><boolean>1</boolean></value>"
                         : "<value><boolean>0</boolean></value>";
            } else if constexpr (std::is_same_v<T, double>) {
                out += "<value><double>";
                detail::appendDouble16g(out, v);
                out += "</double></value>";
            } else if constexpr (std::is_same_v<T, DateTime>) {
                out += "<value><dateTime.iso8601>";
                appendEscaped(out, v.text);
                out += "</dateTime.iso8601></value>";
            } else if constexpr (std::is_same_v<T, Array>) {
                out += "<value><array><data>";
                for (const Value& item : v) appendValue(out, item);
                out += "</data></array></value>";
            } else {
                static_assert(std::is_same_v<T, Struct>);
                out += "<value><struct>";
                for (const auto& [name, member] : v) appendMember(out, name, member);
                out += "</struct></value>";
            }
        },
        value.storage());
}

std::string serializeResponse(const Outcome& outcome) {
    std::string out;
    out.reserve(256);
    out += xmlDecl;
    out += "<methodResponse><params><param><value><struct>";
    if (outcome.success) {
        out += "<member><name>Status</name><value>Success</value></member>";
        appendMember(out, "Value", outcome.result);
    } else {
        out += "<member><name>Status</name><value>Failure</value></member>"
               "<member><name>ErrorDescription</name><value><array><data>";
        if (outcome.error.empty()) {
            // A failure without a code is a dispatcher bug; clients still need one.
            out += "<value>INTERNAL_ERROR</value>";
        }
        for (const std::string& part : outcome.error) {
            out += "<value>";
            appendEscaped(out, part);
            out += "</value>";
        }
        out += "</data></array></value></member>";
    }
    out += "</struct></value></param></params></methodResponse>";
    return out;
}

std::string serializeBare(const Value& value) { return wrapInResponse(value); }

std::string serializeCall(const Call& call) {
    std::string out;
    out.reserve(256);
    out += xmlDecl;
    out += "<methodCall><methodName>";
    appendEscaped(out, call.method);
    out += "</methodName><params>";
    for (const Value& param : call.params) {
        out += "<param>";
        appendValue(out, param);
        out += "</param>";
    }
    out += "</params></methodCall>";
    return out;
}

}  // namespace xenrdp::xapi_rpc::xml
