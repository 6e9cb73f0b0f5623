#pragma once
/// Errors of the xenstore layer as std::error_code, category "xenstore".
#include <string>
#include <system_error>

namespace xenrdp::xenstore {

/// Conditions the layer reports.  Values that come from libxenstore keep
/// their errno meaning; the layer's own conditions start at 1000.
enum class XsErrc {
    ok = 0,
    notConnected = 1000,  ///< the handle is dead or was never opened
    badPath = 1001,       ///< a path failed validation before it was sent
    retriesExhausted = 1002,  ///< a transaction kept conflicting (EAGAIN)
    stopped = 1003,       ///< the connection was stopped while the request waited
};

/// The "xenstore" category.  message() gives strerror() text for errno values.
const std::error_category& xenstoreCategory() noexcept;

std::error_code make_error_code(XsErrc e) noexcept;

/// Wraps an errno value from libxenstore into the "xenstore" category.
std::error_code errnoCode(int err) noexcept;

}  // namespace xenrdp::xenstore

template <>
struct std::is_error_code_enum<xenrdp::xenstore::XsErrc> : std::true_type {};
