// The XML-RPC request parser xenrdpd used until 2026-11: xmlrpc-c's
// xmlrpc_parse_call behind a pre-pass, its value tree converted to ours.
// Kept for the tests as an independent reference: the expat parser in
// xapi_rpc/codec must accept what this accepts, with the same result
// (tests/unit/xapi_rpc/codec/xml_reference_test.cpp).
//
// The pre-pass guards xmlrpc-c's own faults: it refuses NUL bytes and UTF-16
// (expat would decode UTF-16 behind the scan's back), DOCTYPE/ENTITY
// declarations, deep element nesting and malformed <i8> (xmlrpc-c 1.33.14
// crashes on those), and it reads <double> text exactly itself, since
// xmlrpc-c's own conversion is off by a few ULPs and refuses exponents.
#include "xmlrpc_c_reference.hpp"

#include <xmlrpc-c/base.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <system_error>
#include <vector>

namespace xenrdp::xapi_rpc::xml {

namespace {

constexpr std::size_t maxMessageChars = 200;

struct ValueDecref {
    void operator()(xmlrpc_value* v) const noexcept { xmlrpc_DECREF(v); }
};
using ValuePtr = std::unique_ptr<xmlrpc_value, ValueDecref>;

// Frees what xmlrpc-c returns with malloc (strings, base64 bytes, method name).
struct FreeDeleter {
    void operator()(const void* p) const noexcept { std::free(const_cast<void*>(p)); }
};
using CharPtr = std::unique_ptr<const char, FreeDeleter>;
using BytePtr = std::unique_ptr<const unsigned char, FreeDeleter>;

// Owns an xmlrpc_env: initialised on construction, cleaned on destruction.
class Env {
public:
    Env() noexcept { xmlrpc_env_init(&env_); }
    ~Env() { xmlrpc_env_clean(&env_); }
    Env(const Env&) = delete;
    Env& operator=(const Env&) = delete;

    xmlrpc_env* get() noexcept { return &env_; }
    bool failed() const noexcept { return env_.fault_occurred != 0; }
    std::string message() const {
        std::string text = env_.fault_string != nullptr ? env_.fault_string : "unknown error";
        if (text.size() > maxMessageChars) text.resize(maxMessageChars);
        while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
        return text;
    }

private:
    xmlrpc_env env_{};
};

// xmlrpc-c keeps its limits and parser set-up in process globals; do that
// set-up exactly once, before the first parse, from whichever thread comes.
void initXmlRpcOnce() {
    static std::once_flag once;
    std::call_once(once, [] {
        Env env;
        xmlrpc_init(env.get());
        xmlrpc_limit_set(XMLRPC_XML_SIZE_LIMIT_ID, maxXmlBytesCeiling);
        xmlrpc_limit_set(XMLRPC_NESTING_LIMIT_ID, 64);
    });
}

bool startsWithNoCase(std::string_view text, std::size_t pos, std::string_view word) {
    if (text.size() - pos < word.size()) return false;
    return std::equal(word.begin(), word.end(), text.begin() + static_cast<std::ptrdiff_t>(pos),
                      [](char a, char b) {
                          const auto lower = [](char c) {
                              return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
                          };
                          return lower(a) == lower(b);
                      });
}

// True if `text` is [+-]?[0-9]+ and fits in int64.
bool isInt64Text(std::string_view text) {
    const bool plus = !text.empty() && text.front() == '+';
    if (plus) text.remove_prefix(1);
    if (text.empty() || text.front() == '+' || (plus && text.front() == '-')) return false;
    std::int64_t parsed = 0;
    const auto res = std::from_chars(text.data(), text.data() + text.size(), parsed);
    return res.ec == std::errc{} && res.ptr == text.data() + text.size();
}

// True if `text` is a finite decimal number; stores it in `value`.
bool parseDoubleText(std::string_view text, double& value) {
    const bool plus = !text.empty() && text.front() == '+';
    if (plus) text.remove_prefix(1);
    if (text.empty() || text.front() == '+' || (plus && text.front() == '-')) return false;
    const auto res = std::from_chars(text.data(), text.data() + text.size(), value,
                                     std::chars_format::general);
    return res.ec == std::errc{} && res.ptr == text.data() + text.size() && std::isfinite(value);
}

// Why prepare() could not read `body` as expat will, or null.  expat's only
// encodings that are not ASCII-compatible are UTF-16 LE/BE, which it detects
// from a byte-order mark or from zero bytes around "<": either way the body
// starts with FE FF / FF FE or holds a NUL byte.
const char* notAsciiCompatible(std::string_view body) {
    const auto starts = [body](std::string_view mark) { return body.substr(0, 2) == mark; };
    if (starts("\xFE\xFF") || starts("\xFF\xFE")) {
        return "XML-RPC request is not UTF-8 (UTF-16 byte-order mark)";
    }
    if (body.find('\0') != std::string_view::npos) return "XML-RPC request holds a NUL byte";
    return nullptr;
}

// Result of the pre-pass: an error, or the body to hand to xmlrpc-c plus
// the exact values of its doubles.
struct Prepared {
    std::string error;
    std::string rewritten;        // empty: use the original body
    std::vector<double> doubles;  // <double> number i of the document is doubles[i]
};

// One scan over the body before xmlrpc-c sees it:
//  * refuses DTDs and entity declarations anywhere;
//  * refuses element nesting deeper than maxDepth;
//  * refuses an <i8> whose text is not a decimal int64: xmlrpc-c 1.33.14
//    crashes (bad printf argument in its error path) on such input;
//  * replaces the text of each <double> by its index in out.doubles, where
//    the exactly parsed value goes.
// Comments, CDATA and processing instructions are skipped.
Prepared prepare(std::string_view body, std::size_t maxDepth) {
    Prepared out;
    std::size_t copied = 0;  // body[0, copied) is already in out.rewritten
    std::size_t depth = 0;
    std::size_t pos = body.find('<');
    while (pos != std::string_view::npos) {
        if (startsWithNoCase(body, pos, "<!doctype") || startsWithNoCase(body, pos, "<!entity")) {
            out.error = "DOCTYPE and ENTITY declarations are not accepted";
            return out;
        }
        std::size_t next = pos + 1;
        if (startsWithNoCase(body, pos, "<!--")) {
            next = body.find("-->", pos + 4);
        } else if (startsWithNoCase(body, pos, "<![CDATA[")) {
            next = body.find("]]>", pos + 9);
        } else if (startsWithNoCase(body, pos, "<?")) {
            next = body.find("?>", pos + 2);
        } else if (startsWithNoCase(body, pos, "</")) {
            if (depth > 0) --depth;
        } else {
            const std::size_t close = body.find('>', pos);
            if (close == std::string_view::npos) break;  // unterminated tag: the parser reports it
            next = close + 1;
            if (body[close - 1] == '/') {
                pos = body.find('<', next);
                continue;
            }
            if (++depth > maxDepth) {
                out.error = "XML nesting too deep";
                return out;
            }
            std::string_view name = body.substr(pos + 1, close - pos - 1);
            name = name.substr(0, name.find_first_of(" \t\r\n"));
            if (const auto colon = name.rfind(':'); colon != std::string_view::npos) {
                name.remove_prefix(colon + 1);
            }
            if (name != "i8" && name != "double") {
                pos = body.find('<', next);
                continue;
            }
            const std::size_t end = body.find('<', next);
            if (end == std::string_view::npos) break;
            const std::string_view text = body.substr(next, end - next);
            if (name == "i8") {
                if (!startsWithNoCase(body, end, "</") || (!text.empty() && !isInt64Text(text))) {
                    out.error = "<i8> value is not a 64-bit integer";
                    return out;
                }
            } else {
                double value = 0;
                if (!startsWithNoCase(body, end, "</") || !parseDoubleText(text, value)) {
                    out.error = "<double> value is not a finite decimal number";
                    return out;
                }
                out.rewritten.append(body.substr(copied, next - copied));
                out.rewritten += std::to_string(out.doubles.size());
                out.doubles.push_back(value);
                copied = end;
            }
            next = end;
        }
        if (next == std::string_view::npos) break;  // unterminated: the parser will report it
        pos = body.find('<', next);
    }
    if (copied > 0) out.rewritten.append(body.substr(copied));
    return out;
}

std::string formatDateTime(const xmlrpc_datetime& dt) {
    // xapi's own form (Date.to_rfc3339): YYYYMMDDTHH:MM:SSZ.
    std::array<char, 64> buf{};
    const int n = std::snprintf(buf.data(), buf.size(), "%04u%02u%02uT%02u:%02u:%02uZ", dt.Y,
                                dt.M, dt.D, dt.h, dt.m, dt.s);
    return std::string(buf.data(), static_cast<std::size_t>(std::max(n, 0)));
}

// Converts one xmlrpc-c value; recursion depth is bounded by xmlrpc-c's
// nesting limit (64). Returns false with `env` faulted or `error` set.
bool convert(Env& env, xmlrpc_value* in, const std::vector<double>& doubles, Value& out,
             std::string& error) {
    switch (xmlrpc_value_type(in)) {
    case XMLRPC_TYPE_INT: {
        int i = 0;
        xmlrpc_read_int(env.get(), in, &i);
        out = Value(static_cast<std::int64_t>(i));
        break;
    }
    case XMLRPC_TYPE_I8: {
        xmlrpc_int64 i = 0;
        xmlrpc_read_i8(env.get(), in, &i);
        out = Value(static_cast<std::int64_t>(i));
        break;
    }
    case XMLRPC_TYPE_BOOL: {
        xmlrpc_bool b = 0;
        xmlrpc_read_bool(env.get(), in, &b);
        out = Value(b != 0);
        break;
    }
    case XMLRPC_TYPE_DOUBLE: {
        // The pre-pass left the index of the exact value (a small integer,
        // which xmlrpc-c reads exactly).
        double index = 0;
        xmlrpc_read_double(env.get(), in, &index);
        if (env.failed()) break;
        if (!(index >= 0 && index < static_cast<double>(doubles.size())) ||
            index != std::floor(index)) {
            error = "unexpected <double>";
            return false;
        }
        out = Value(doubles[static_cast<std::size_t>(index)]);
        break;
    }
    case XMLRPC_TYPE_DATETIME: {
        xmlrpc_datetime dt{};
        xmlrpc_read_datetime(env.get(), in, &dt);
        if (!env.failed()) out = Value(DateTime{formatDateTime(dt)});
        break;
    }
    case XMLRPC_TYPE_STRING: {
        std::size_t len = 0;
        const char* raw = nullptr;
        xmlrpc_read_string_lp(env.get(), in, &len, &raw);
        if (env.failed()) break;
        CharPtr owned(raw);
        out = Value(std::string(owned.get(), len));
        break;
    }
    case XMLRPC_TYPE_BASE64: {
        std::size_t len = 0;
        const unsigned char* raw = nullptr;
        xmlrpc_read_base64(env.get(), in, &len, &raw);
        if (env.failed()) break;
        BytePtr owned(raw);
        out = Value(std::string(reinterpret_cast<const char*>(owned.get()), len));
        break;
    }
    case XMLRPC_TYPE_NIL:
        out = Value(Nil{});
        break;
    case XMLRPC_TYPE_ARRAY: {
        const int size = xmlrpc_array_size(env.get(), in);
        if (env.failed()) break;
        Array items;
        items.reserve(static_cast<std::size_t>(size));
        for (int i = 0; i < size; ++i) {
            xmlrpc_value* rawItem = nullptr;
            xmlrpc_array_read_item(env.get(), in, static_cast<unsigned int>(i), &rawItem);
            if (env.failed()) return false;
            ValuePtr item(rawItem);
            if (!convert(env, item.get(), doubles, items.emplace_back(), error)) return false;
        }
        out = Value(std::move(items));
        break;
    }
    case XMLRPC_TYPE_STRUCT: {
        const int size = xmlrpc_struct_size(env.get(), in);
        if (env.failed()) break;
        Struct members;
        members.reserve(static_cast<std::size_t>(size));
        for (int i = 0; i < size; ++i) {
            xmlrpc_value* rawKey = nullptr;
            xmlrpc_value* rawValue = nullptr;
            xmlrpc_struct_read_member(env.get(), in, static_cast<unsigned int>(i), &rawKey,
                                      &rawValue);
            if (env.failed()) return false;
            ValuePtr key(rawKey);
            ValuePtr member(rawValue);
            Value keyValue;
            if (!convert(env, key.get(), doubles, keyValue, error)) return false;
            const std::string* keyText = keyValue.getIf<std::string>();
            if (keyText == nullptr) {
                error = "struct member name is not a string";
                return false;
            }
            auto& slot = members.emplace_back(*keyText, Value{});
            if (!convert(env, member.get(), doubles, slot.second, error)) return false;
        }
        out = Value(std::move(members));
        break;
    }
    default:
        error = "unsupported XML-RPC value type";
        return false;
    }
    return !env.failed();
}

}  // namespace

ParseResult<Call> parseCallWithXmlrpcC(std::string_view body, const XmlLimits& limits) {
    const std::size_t maxBytes = std::min(limits.maxBytes, maxXmlBytesCeiling);
    if (body.size() > maxBytes) {
        return ParseError{"XML-RPC request of " + std::to_string(body.size()) +
                          " bytes exceeds the limit of " + std::to_string(maxBytes)};
    }
    if (const char* why = notAsciiCompatible(body)) return ParseError{why};
    Prepared prepared = prepare(body, limits.maxElementDepth);
    if (!prepared.error.empty()) return ParseError{std::move(prepared.error)};
    if (!prepared.rewritten.empty()) body = prepared.rewritten;
    initXmlRpcOnce();

    Env env;
    const char* rawName = nullptr;
    xmlrpc_value* rawParams = nullptr;
    xmlrpc_parse_call(env.get(), body.data(), body.size(), &rawName, &rawParams);
    if (env.failed()) return ParseError{"malformed XML-RPC request: " + env.message()};
    CharPtr name(rawName);
    ValuePtr params(rawParams);

    Value converted;
    std::string error;
    if (!convert(env, params.get(), prepared.doubles, converted, error)) {
        return ParseError{"malformed XML-RPC request: " + (error.empty() ? env.message() : error)};
    }
    Array* list = std::get_if<Array>(&converted.storage());
    if (list == nullptr) return ParseError{"malformed XML-RPC request: params is not a list"};
    return Call{name.get() != nullptr ? std::string(name.get()) : std::string(), std::move(*list)};
}

}  // namespace xenrdp::xapi_rpc::xml
