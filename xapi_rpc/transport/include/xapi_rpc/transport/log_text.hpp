#pragma once
// Client-supplied text made safe for a log line.

#include <cstddef>
#include <string>
#include <string_view>

namespace xenrdp::xapi_rpc::transport {

/// Default bound for a client-supplied field (a user name) in a log line.
inline constexpr std::size_t kLogFieldMaxBytes = 64;
/// Bound for an exception's message, which may quote client input.
inline constexpr std::size_t kLogMessageMaxBytes = 256;

/// `text` as one log field that a client cannot use to forge lines or fields:
/// printable ASCII other than space and backslash is kept; a backslash
/// becomes `\\`, newline, carriage return and tab `\n` `\r` `\t`, and every
/// other byte (controls, space, DEL, anything non-ASCII) `\xHH`.  Only the
/// first `maxBytes` bytes of `text` are shown; a longer text ends with
/// `…(+N bytes)`, where N counts the bytes left out.  The marker's `…` is
/// UTF-8, which escaped text never holds, so a client cannot fake it.
/// Pure; never throws but std::bad_alloc.
std::string logText(std::string_view text, std::size_t maxBytes = kLogFieldMaxBytes);

}  // namespace xenrdp::xapi_rpc::transport
