#pragma once
// Internal helpers shared by the XML and JSON writers: UTF-8 checking and
// number formatting. Locale-independent (std::to_chars), no allocation
// except growing `out`.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace xenrdp::xapi_rpc::detail {

/// U+FFFD REPLACEMENT CHARACTER in UTF-8, written for each invalid byte.
inline constexpr std::string_view replacementChar = "\xEF\xBF\xBD";

/// Length (2..4) of the well-formed UTF-8 sequence starting at s[i], whose
/// first byte is >= 0x80, or 0 if it is not one (overlong forms, surrogates,
/// code points above U+10FFFF and truncated sequences are all invalid).
std::size_t utf8SequenceLength(std::string_view s, std::size_t i) noexcept;

/// True if all of `s` is well-formed UTF-8.
bool isValidUtf8(std::string_view s) noexcept;

void appendInt(std::string& out, std::int64_t value);

/// printf's "%.16g", as rpclib's XML-RPC writer uses for doubles.
void appendDouble16g(std::string& out, double value);

/// Yojson's float rule: "%.16g" if it reads back exactly, else "%.17g", then
/// ".0" appended if the text looks like an integer. Non-finite -> "null".
void appendDoubleJson(std::string& out, double value);

}  // namespace xenrdp::xapi_rpc::detail
