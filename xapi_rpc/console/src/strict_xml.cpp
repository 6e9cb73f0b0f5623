#include "strict_xml.hpp"

#include <cstddef>

namespace xenrdp::xapi_rpc::console::detail {
namespace {

bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
bool isNameStart(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool isNameChar(char c)
{
    return isNameStart(c) || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == ':';
}

/// A cursor over the body; every reader returns false (with `error` set) on
/// the first thing it does not accept.
class Reader {
public:
    explicit Reader(std::string_view text) : text_(text) {}

    bool atEnd() const { return pos_ >= text_.size(); }
    char peek() const { return atEnd() ? '\0' : text_[pos_]; }
    bool startsWith(std::string_view s) const { return text_.substr(pos_).substr(0, s.size()) == s; }
    void skipSpace()
    {
        while (!atEnd() && isSpace(text_[pos_])) ++pos_;
    }
    bool expect(char c)
    {
        if (peek() != c) return fail(std::string("expected '") + c + "'");
        ++pos_;
        return true;
    }
    bool name(std::string& out)
    {
        if (!isNameStart(peek())) return fail("expected a name");
        const std::size_t start = pos_;
        while (!atEnd() && isNameChar(text_[pos_])) ++pos_;
        out.assign(text_.substr(start, pos_ - start));
        return true;
    }
    /// A quoted attribute value with the five predefined references decoded.
    bool value(std::string& out)
    {
        const char quote = peek();
        if (quote != '"' && quote != '\'') return fail("expected a quoted attribute value");
        ++pos_;
        out.clear();
        while (true) {
            if (atEnd()) return fail("unterminated attribute value");
            const char c = text_[pos_++];
            if (c == quote) return true;
            if (c == '<') return fail("'<' in an attribute value");
            if (c == '&') {
                static constexpr std::pair<std::string_view, char> kRefs[] = {
                    {"amp;", '&'}, {"lt;", '<'}, {"gt;", '>'}, {"quot;", '"'}, {"apos;", '\''}};
                bool known = false;
                for (const auto& [ref, ch] : kRefs) {
                    if (startsWith(ref)) {
                        out.push_back(ch);
                        pos_ += ref.size();
                        known = true;
                        break;
                    }
                }
                if (!known) return fail("only &amp; &lt; &gt; &quot; &apos; are accepted");
                continue;
            }
            if (static_cast<unsigned char>(c) < 0x20 && !isSpace(c)) return fail("control character");
            out.push_back(c);
        }
    }
    /// name="value" pairs up to '>' or '/>' (not consumed).
    bool attributes(std::map<std::string, std::string>& out, bool declaration)
    {
        std::map<std::string, bool> seen;
        while (true) {
            const bool spaced = !atEnd() && isSpace(peek());
            skipSpace();
            const char c = peek();
            if (c == '>' || c == '/' || c == '?') return true;
            if (!spaced) return fail("expected whitespace before an attribute");
            std::string key;
            std::string val;
            if (!name(key)) return false;
            skipSpace();
            if (!expect('=')) return false;
            skipSpace();
            if (!value(val)) return false;
            if (seen[key]) return fail("duplicate attribute '" + key + "'");
            seen[key] = true;
            if (declaration) {
                if (key != "version" && key != "encoding" && key != "standalone")
                    return fail("unknown XML declaration attribute");
                continue;
            }
            if (key == "xmlns" || key.rfind("xmlns:", 0) == 0) continue;
            out.emplace(std::move(key), std::move(val));
        }
    }
    bool fail(std::string message)
    {
        if (error_.empty()) error_ = std::move(message) + " at offset " + std::to_string(pos_);
        return false;
    }
    const std::string& error() const { return error_; }

private:
    std::string_view text_;
    std::size_t pos_ = 0;
    std::string error_;
};

}  // namespace

std::variant<XmlElement, std::string> parseSingleElement(std::string_view text)
{
    Reader r(text);
    r.skipSpace();
    if (r.startsWith("<?xml")) {
        // The declaration: <?xml version="1.0" encoding="UTF-8"?>.
        for (int i = 0; i < 5; ++i) r.expect("<?xml"[i]);
        std::map<std::string, std::string> ignored;
        if (!r.attributes(ignored, true) || !r.expect('?') || !r.expect('>')) return r.error();
        r.skipSpace();
    }
    if (r.startsWith("<!")) {
        r.fail("DOCTYPE, comments and CDATA are not accepted");
        return r.error();
    }
    if (r.startsWith("<?")) {
        r.fail("processing instructions are not accepted");
        return r.error();
    }
    XmlElement element;
    if (!r.expect('<') || !r.name(element.name) || !r.attributes(element.attributes, false))
        return r.error();
    if (r.peek() == '/') {
        if (!r.expect('/') || !r.expect('>')) return r.error();
    } else {
        if (!r.expect('>')) return r.error();
        r.skipSpace();  // only whitespace may stand between the tags
        std::string closing;
        if (!r.expect('<') || !r.expect('/') || !r.name(closing)) return r.error();
        if (closing != element.name) {
            r.fail("mismatched closing tag");
            return r.error();
        }
        r.skipSpace();
        if (!r.expect('>')) return r.error();
    }
    r.skipSpace();
    if (!r.atEnd()) {
        r.fail("content after the root element");
        return r.error();
    }
    return element;
}

std::string xmlEscape(std::string_view text)
{
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        case '\'': out += "&apos;"; break;
        default: out.push_back(c);
        }
    }
    return out;
}

}  // namespace xenrdp::xapi_rpc::console::detail
