// XML-RPC request parsing: expat (Debian's libexpat) as a SAX parser, with
// the XML-RPC grammar checked and each Value built as its closing tag is read.
//
// Until 2026-11 this went through xmlrpc-c's xmlrpc_parse_call.  That built
// an element tree, then an xmlrpc_value tree, which was then converted to
// ours: three trees per request and a third of a small call's CPU time
// (docs/PERFORMANCE.md).  It also needed a pre-pass over the body for its
// faults (a crash on a malformed <i8>, inexact doubles, recursive freeing).
// Reading the events directly builds one tree, once.  xmlrpc-c stays in the
// tests as the reference this parser is compared with.
//
// Guards:
//  * bodies with a NUL byte or a UTF-16 byte-order mark are refused first:
//    expat would decode UTF-16, xapi's clients send UTF-8, and XML 1.0
//    forbids U+0000;
//  * a DOCTYPE stops the parser at its start, before any entity declaration
//    in it is read (billion laughs, external entities);
//  * the element depth and the value nesting (arrays and structs, 64 as
//    xmlrpc-c had it) are bounded; nothing here recurses on the input;
//  * any element the grammar does not allow where it stands is an error.
#include <xapi_rpc/codec/xml_rpc.hpp>

#include <expat.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace xenrdp::xapi_rpc::xml {

namespace {

/// Arrays and structs nested deeper than this are refused.
constexpr std::size_t maxValueNesting = 64;
/// Up to this many members, a struct's repeated names are merged as they
/// come; a bigger one is merged once, by sorting, when it closes.  Sorting
/// costs n log n whatever the names (a hash index could be flooded with
/// names chosen to collide).
constexpr std::size_t linearMemberSearch = 16;
/// The per-thread parser is kept for bodies up to this size.
constexpr std::size_t keepParserBelowBytes = 64 * 1024;

struct ParserFree {
    void operator()(XML_Parser p) const noexcept { XML_ParserFree(p); }
};
using ParserPtr = std::unique_ptr<std::remove_pointer_t<XML_Parser>, ParserFree>;

// A random hash salt for expat's name tables, drawn once per process so
// that no parse pays for a getrandom() call.
unsigned long hashSalt() {
    static const unsigned long salt = []() -> unsigned long {
        try {
            std::random_device device;
            return (static_cast<unsigned long>(device()) << 32U) ^ device();
        } catch (const std::exception&) {
            return 0;  // expat then draws a salt of its own for each parser
        }
    }();
    return salt;
}

bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

bool allSpace(std::string_view text) { return std::all_of(text.begin(), text.end(), isSpace); }


// Numbers, booleans and dates are read without surrounding whitespace: no
// client writes any, and xmlrpc-c refused most of it.

// [+-]?[0-9]+ within [lo, hi].
bool parseInteger(std::string_view text, std::int64_t lo, std::int64_t hi, std::int64_t& value) {
    const bool plus = !text.empty() && text.front() == '+';
    if (plus) text.remove_prefix(1);
    if (text.empty() || text.front() == '+' || (plus && text.front() == '-')) return false;
    const auto res = std::from_chars(text.data(), text.data() + text.size(), value);
    return res.ec == std::errc{} && res.ptr == text.data() + text.size() && value >= lo &&
           value <= hi;
}

// A finite decimal number, read to the nearest double (exponents allowed:
// Python and JavaScript write 1e+20).
bool parseDouble(std::string_view text, double& value) {
    const bool plus = !text.empty() && text.front() == '+';
    if (plus) text.remove_prefix(1);
    if (text.empty() || text.front() == '+' || (plus && text.front() == '-')) return false;
    const auto res = std::from_chars(text.data(), text.data() + text.size(), value,
                                     std::chars_format::general);
    return res.ec == std::errc{} && res.ptr == text.data() + text.size() && std::isfinite(value);
}

// YYYYMMDDTHH:MM:SS, optionally with a fraction and a "Z"; written back in
// xapi's form YYYYMMDDTHH:MM:SSZ (the fraction is dropped, as xapi does).
std::optional<std::string> parseDateTime(std::string_view text) {
    if (text.size() < 17 || text[8] != 'T' || text[11] != ':' || text[14] != ':') return {};
    int fields[6] = {};
    const std::size_t at[6] = {0, 4, 6, 9, 12, 15};
    const std::size_t len[6] = {4, 2, 2, 2, 2, 2};
    for (int i = 0; i < 6; ++i) {
        const char* first = text.data() + at[i];
        const char* last = first + len[i];
        if (!std::all_of(first, last, [](char c) { return c >= '0' && c <= '9'; })) return {};
        std::from_chars(first, last, fields[i]);
    }
    if (fields[1] < 1 || fields[1] > 12 || fields[2] < 1 || fields[2] > 31 || fields[3] > 23 ||
        fields[4] > 59 || fields[5] > 60) {
        return {};
    }
    std::string_view rest = text.substr(17);
    if (!rest.empty() && rest.front() == '.') {
        rest.remove_prefix(1);
        const auto digits = std::min(rest.find_first_not_of("0123456789"), rest.size());
        if (digits == 0) return {};
        rest.remove_prefix(digits);
    }
    if (!rest.empty() && rest != "Z") return {};
    std::string out(text.substr(0, 17));
    out += 'Z';
    return out;
}

// Standard base64; whitespace anywhere is skipped (Python wraps lines).
std::optional<std::string> decodeBase64(std::string_view text) {
    std::string out;
    out.reserve(text.size() / 4 * 3);
    std::uint32_t bits = 0;
    int count = 0;
    int padding = 0;
    for (const char c : text) {
        if (isSpace(c)) continue;
        int sextet = -1;
        if (c >= 'A' && c <= 'Z') sextet = c - 'A';
        else if (c >= 'a' && c <= 'z') sextet = c - 'a' + 26;
        else if (c >= '0' && c <= '9') sextet = c - '0' + 52;
        else if (c == '+') sextet = 62;
        else if (c == '/') sextet = 63;
        else if (c == '=') {
            ++padding;
            sextet = 0;
        }
        if (sextet < 0 || (padding > 0 && c != '=') || padding > 2) return {};
        bits = (bits << 6U) | static_cast<std::uint32_t>(sextet);
        if (++count == 4) {
            out += static_cast<char>((bits >> 16U) & 0xFFU);
            if (padding < 2) out += static_cast<char>((bits >> 8U) & 0xFFU);
            if (padding < 1) out += static_cast<char>(bits & 0xFFU);
            bits = 0;
            count = 0;
        }
    }
    if (count != 0) return {};
    return out;
}

// The elements of XML-RPC's request grammar.
enum class Kind {
    MethodCall, MethodName, Params, Param, Value,
    String, Int, I8, Boolean, Double, DateTime, Base64, Nil,
    Array, Data, Struct, Member, Name,
};

std::optional<Kind> kindOf(std::string_view name) {
    // Namespace prefixes are ignored (<ex:i8>, <ex:nil> from Apache's extensions).
    if (const auto colon = name.rfind(':'); colon != std::string_view::npos) {
        name.remove_prefix(colon + 1);
    }
    static constexpr std::pair<std::string_view, Kind> names[] = {
        {"value", Kind::Value},       {"param", Kind::Param},
        {"member", Kind::Member},     {"name", Kind::Name},
        {"string", Kind::String},     {"struct", Kind::Struct},
        {"array", Kind::Array},       {"data", Kind::Data},
        {"int", Kind::Int},           {"i4", Kind::Int},
        {"i8", Kind::I8},             {"boolean", Kind::Boolean},
        {"double", Kind::Double},     {"dateTime.iso8601", Kind::DateTime},
        {"base64", Kind::Base64},     {"nil", Kind::Nil},
        {"params", Kind::Params},     {"methodName", Kind::MethodName},
        {"methodCall", Kind::MethodCall},
    };
    for (const auto& [text, kind] : names) {
        if (text == name) return kind;
    }
    return {};
}

bool isScalar(Kind k) {
    switch (k) {
    case Kind::String: case Kind::Int: case Kind::I8: case Kind::Boolean: case Kind::Double:
    case Kind::DateTime: case Kind::Base64: case Kind::Nil:
        return true;
    default:
        return false;
    }
}

// One open element; its flags record which children it has seen so far.
struct Frame {
    Kind kind;
    Value value;             // Value: its typed content; Array/Struct: the container
    bool hasContent = false; // Value: typed child seen; Member: value seen; Param: value seen
    bool hasName = false;    // Member: <name> seen; MethodCall: <methodName> seen
    bool hasParams = false;  // MethodCall: <params> seen; Array: <data> seen
    std::string name;        // Member: its name
    bool unmerged = false;   // Struct: members appended without the repeated-name rule
};

class CallBuilder {
public:
    CallBuilder(XML_Parser parser, std::size_t maxDepth) : parser_(parser), maxDepth_(maxDepth) {
        frames_.reserve(16);
    }

    // No exception may unwind through expat's C frames: an allocation
    // failure stops the parser and is rethrown once XML_Parse has returned.
    static void XMLCALL onStart(void* self, const XML_Char* name, const XML_Char** /*attrs*/) {
        auto* builder = static_cast<CallBuilder*>(self);
        builder->guarded([builder, name] { builder->start(name); });
    }
    static void XMLCALL onEnd(void* self, const XML_Char* /*name*/) {
        auto* builder = static_cast<CallBuilder*>(self);
        builder->guarded([builder] { builder->end(); });
    }
    static void XMLCALL onText(void* self, const XML_Char* text, int len) {
        auto* builder = static_cast<CallBuilder*>(self);
        builder->guarded([builder, text, len] {
            builder->characters(std::string_view(text, static_cast<std::size_t>(len)));
        });
    }
    static void XMLCALL onDoctype(void* self, const XML_Char*, const XML_Char*, const XML_Char*,
                                  int) {
        static_cast<CallBuilder*>(self)->fail("DOCTYPE and ENTITY declarations are not accepted");
    }

    const std::string& error() const { return error_; }
    bool outOfMemory() const { return outOfMemory_; }
    bool complete() const { return complete_; }
    Call take() { return std::move(call_); }

    void fail(std::string why) {
        if (error_.empty()) error_ = std::move(why);
        XML_StopParser(parser_, XML_FALSE);
    }

private:
    template <class Fn>
    void guarded(Fn&& fn) noexcept {
        try {
            fn();
        } catch (...) {  // std::bad_alloc is all the handlers can throw
            outOfMemory_ = true;
            try {
                fail("out of memory");
            } catch (...) {
                XML_StopParser(parser_, XML_FALSE);
            }
        }
    }

    void start(std::string_view name) {
        if (!error_.empty()) return;
        if (frames_.size() + 1 > maxDepth_) return fail("XML nesting too deep");
        const auto kind = kindOf(name);
        if (!kind) return fail("unexpected element <" + std::string(name.substr(0, 40)) + ">");
        if (!allowed(*kind)) {
            return fail("element <" + std::string(name.substr(0, 40)) + "> not allowed here");
        }
        if (*kind == Kind::Array || *kind == Kind::Struct) {
            if (++nesting_ > maxValueNesting) {
                return fail("XML nesting too deep: arrays and structs beyond 64 levels");
            }
        }
        text_.clear();
        Frame& frame = frames_.emplace_back();
        frame.kind = *kind;
        if (*kind == Kind::Array) frame.value = Value(Array{});
        if (*kind == Kind::Struct) frame.value = Value(Struct{});
    }

    // Whether `child` may open inside the innermost open element; marks the
    // child as seen there.
    bool allowed(Kind child) {
        if (frames_.empty()) return child == Kind::MethodCall && !complete_;
        Frame& parent = frames_.back();
        switch (parent.kind) {
        case Kind::MethodCall:
            if (child == Kind::MethodName && !parent.hasName) return parent.hasName = true;
            if (child == Kind::Params && parent.hasName && !parent.hasParams) {
                return parent.hasParams = true;
            }
            return false;
        case Kind::Params:
            return child == Kind::Param;
        case Kind::Param:
            if (child != Kind::Value || parent.hasContent) return false;
            return parent.hasContent = true;
        case Kind::Value:
            if (parent.hasContent || !allSpace(text_)) return false;
            if (!isScalar(child) && child != Kind::Array && child != Kind::Struct) return false;
            return parent.hasContent = true;
        case Kind::Array:
            if (child != Kind::Data || parent.hasParams) return false;
            return parent.hasParams = true;
        case Kind::Data:
            return child == Kind::Value;
        case Kind::Struct:
            return child == Kind::Member;
        case Kind::Member:
            if (child == Kind::Name && !parent.hasName) return parent.hasName = true;
            if (child == Kind::Value && parent.hasName && !parent.hasContent) {
                return parent.hasContent = true;
            }
            return false;
        default:
            return false;  // scalars, <name>, <methodName> hold text only
        }
    }

    void characters(std::string_view text) {
        if (!error_.empty() || frames_.empty()) return;
        switch (frames_.back().kind) {
        case Kind::Value:
            if (frames_.back().hasContent) {
                if (!allSpace(text)) fail("text beside a typed value");
                return;
            }
            text_.append(text);
            return;
        case Kind::String: case Kind::Int: case Kind::I8: case Kind::Boolean: case Kind::Double:
        case Kind::DateTime: case Kind::Base64: case Kind::Name: case Kind::MethodName:
            text_.append(text);
            return;
        case Kind::Nil:
            if (!allSpace(text)) fail("text in <nil/>");
            return;
        default:
            // Text between the structural elements is ignored, as xmlrpc-c
            // ignored it.
            return;
        }
    }

    // The scalar a closed element stands for, or an error.
    bool scalar(Kind kind, Value& out) {
        switch (kind) {
        case Kind::String:
            out = Value(std::move(text_));
            return true;
        case Kind::Int:
        case Kind::I8: {
            const bool wide = kind == Kind::I8;
            std::int64_t i = 0;
            if (!parseInteger(text_, wide ? std::numeric_limits<std::int64_t>::min()
                                          : std::numeric_limits<std::int32_t>::min(),
                              wide ? std::numeric_limits<std::int64_t>::max()
                                   : std::numeric_limits<std::int32_t>::max(),
                              i)) {
                fail(wide ? "<i8> value is not a 64-bit integer"
                          : "<int> value is not a 32-bit integer");
                return false;
            }
            out = Value(i);
            return true;
        }
        case Kind::Boolean: {
            if (text_ != "0" && text_ != "1") {
                fail("<boolean> value is not 0 or 1");
                return false;
            }
            out = Value(text_ == "1");
            return true;
        }
        case Kind::Double: {
            double d = 0;
            if (!parseDouble(text_, d)) {
                fail("<double> value is not a finite decimal number");
                return false;
            }
            out = Value(d);
            return true;
        }
        case Kind::DateTime: {
            auto text = parseDateTime(text_);
            if (!text) {
                fail("<dateTime.iso8601> value is not YYYYMMDDTHH:MM:SS");
                return false;
            }
            out = Value(DateTime{std::move(*text)});
            return true;
        }
        case Kind::Base64: {
            auto bytes = decodeBase64(text_);
            if (!bytes) {
                fail("<base64> value is not base64");
                return false;
            }
            out = Value(std::move(*bytes));
            return true;
        }
        case Kind::Nil:
            out = Value(Nil{});
            return true;
        default:
            return false;
        }
    }

    void end() {
        if (!error_.empty() || frames_.empty()) return;
        // The closed element is handled in place, then popped: no Frame moves.
        const std::size_t at = frames_.size() - 1;
        Frame& frame = frames_[at];
        Frame* parent = at > 0 ? &frames_[at - 1] : nullptr;
        if (isScalar(frame.kind)) {
            if (!scalar(frame.kind, parent->value)) return;
        } else {
            switch (frame.kind) {
            case Kind::MethodCall:
                if (!frame.hasName) return fail("<methodCall> without <methodName>");
                complete_ = true;
                break;
            case Kind::MethodName:
                call_.method = std::move(text_);
                break;
            case Kind::Value:
                if (!frame.hasContent) frame.value = Value(std::move(text_));
                deliver(at - 1, std::move(frame.value));
                break;
            case Kind::Param:
                if (!frame.hasContent) return fail("<param> without <value>");
                break;
            case Kind::Array:
                if (!frame.hasParams) return fail("<array> without <data>");
                --nesting_;
                parent->value = std::move(frame.value);
                break;
            case Kind::Struct:
                --nesting_;
                if (frame.unmerged) mergeRepeatedNames(std::get<Struct>(frame.value.storage()));
                parent->value = std::move(frame.value);
                break;
            case Kind::Name:
                parent->name = std::move(text_);
                break;
            case Kind::Member:
                if (!frame.hasContent) return fail("<member> without <name> and <value>");
                addMember(*parent, std::move(frame.name), std::move(frame.value));
                break;
            default:  // Params, Data: their children were delivered as they closed
                break;
            }
        }
        frames_.pop_back();
        text_.clear();
    }

    // A closed <value> goes to its <param>, <data> or <member>, the frame at
    // `parentAt`.
    void deliver(std::size_t parentAt, Value value) {
        Frame& parent = frames_[parentAt];
        switch (parent.kind) {
        case Kind::Param:
            call_.params.push_back(std::move(value));
            break;
        case Kind::Data:  // the <array> frame around it holds the items
            std::get<Array>(frames_[parentAt - 1].value.storage()).push_back(std::move(value));
            break;
        case Kind::Member:
            parent.value = std::move(value);
            break;
        default:
            break;  // allowed() admits <value> nowhere else
        }
    }

    // A repeated member name keeps its first position and takes the last
    // value: merged here for small structs, at the close for big ones.
    static void addMember(Frame& structFrame, std::string name, Value value) {
        auto& members = std::get<Struct>(structFrame.value.storage());
        if (members.size() < linearMemberSearch) {
            for (auto& member : members) {
                if (member.first == name) {
                    member.second = std::move(value);
                    return;
                }
            }
        } else {
            structFrame.unmerged = true;
        }
        members.emplace_back(std::move(name), std::move(value));
    }

    // The repeated-name rule over a whole struct, in n log n.
    static void mergeRepeatedNames(Struct& members) {
        std::vector<std::size_t> order(members.size());
        for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
        std::stable_sort(order.begin(), order.end(), [&members](std::size_t a, std::size_t b) {
            return members[a].first < members[b].first;
        });
        std::vector<bool> dropped(members.size(), false);
        for (std::size_t group = 0; group < order.size();) {
            std::size_t next = group + 1;
            const std::string& name = members[order[group]].first;
            while (next < order.size() && members[order[next]].first == name) {
                dropped[order[next]] = true;
                ++next;
            }
            // Stable: order[group] is the first position, order[next - 1] the last value.
            if (next - group > 1) {
                members[order[group]].second = std::move(members[order[next - 1]].second);
            }
            group = next;
        }
        std::size_t kept = 0;
        for (std::size_t i = 0; i < members.size(); ++i) {
            if (dropped[i]) continue;
            if (kept != i) members[kept] = std::move(members[i]);
            ++kept;
        }
        members.resize(kept);
    }

    XML_Parser parser_;
    std::size_t maxDepth_;
    std::vector<Frame> frames_;
    std::string text_;  // character data of the innermost open element
    std::string error_;
    bool outOfMemory_ = false;
    std::size_t nesting_ = 0;
    bool complete_ = false;
    Call call_;
};

// Why the body cannot be read as the UTF-8 text xapi's clients send, or null:
// expat would decode UTF-16 (from a byte-order mark or from the zero bytes
// around "<"), and XML 1.0 has no U+0000.
const char* notUtf8Text(std::string_view body) {
    const auto starts = [body](std::string_view mark) { return body.substr(0, 2) == mark; };
    if (starts("\xFE\xFF") || starts("\xFF\xFE")) {
        return "XML-RPC request is not UTF-8 (UTF-16 byte-order mark)";
    }
    if (std::memchr(body.data(), '\0', body.size()) != nullptr) {
        return "XML-RPC request holds a NUL byte";
    }
    return nullptr;
}

}  // namespace

ParseResult<Call> parseCall(std::string_view body, const XmlLimits& limits) {
    const std::size_t maxBytes = std::min(limits.maxBytes, maxXmlBytesCeiling);
    if (body.size() > maxBytes) {
        return ParseError{"XML-RPC request of " + std::to_string(body.size()) +
                          " bytes exceeds the limit of " + std::to_string(maxBytes)};
    }
    if (const char* why = notUtf8Text(body)) return ParseError{why};

    // One parser per thread, reset for each request: creating and freeing
    // one costs about as much as parsing a small call.  Reset clears the
    // handlers, the user data and the salt, so all are set again below.
    thread_local ParserPtr parser;
    if (!parser) {
        parser.reset(XML_ParserCreate(nullptr));
        if (!parser) throw std::bad_alloc();
    } else if (XML_ParserReset(parser.get(), nullptr) != XML_TRUE) {
        throw std::bad_alloc();
    }
    XML_SetHashSalt(parser.get(), hashSalt());
    // Reset keeps expat's pools at the largest size seen; after a big body
    // the parser is freed instead of kept.
    struct ReleaseAfterBigBody {
        ParserPtr& parser;
        bool big;
        ~ReleaseAfterBigBody() {
            if (big) parser.reset();
        }
    } release{parser, body.size() > keepParserBelowBytes};
    CallBuilder builder(parser.get(), limits.maxElementDepth);
    XML_SetUserData(parser.get(), &builder);
    XML_SetElementHandler(parser.get(), &CallBuilder::onStart, &CallBuilder::onEnd);
    XML_SetCharacterDataHandler(parser.get(), &CallBuilder::onText);
    XML_SetStartDoctypeDeclHandler(parser.get(), &CallBuilder::onDoctype);

    const auto status =
        XML_Parse(parser.get(), body.data(), static_cast<int>(body.size()), XML_TRUE);
    if (builder.outOfMemory()) throw std::bad_alloc();
    if (!builder.error().empty()) {
        return ParseError{"malformed XML-RPC request: " + builder.error()};
    }
    if (status != XML_STATUS_OK) {
        const XML_Error code = XML_GetErrorCode(parser.get());
        return ParseError{"malformed XML-RPC request: " + std::string(XML_ErrorString(code)) +
                          " at line " + std::to_string(XML_GetCurrentLineNumber(parser.get()))};
    }
    if (!builder.complete()) return ParseError{"malformed XML-RPC request: no <methodCall>"};
    return builder.take();
}

}  // namespace xenrdp::xapi_rpc::xml
