#pragma once
/// Errors of the xenstore layer as std::error_code, category "xenstore".
///
/// errno values reported by libxenstore keep their number (so
/// `ec.value() == ENOENT` works) inside the "xenstore" category; the layer's
/// own conditions start at 1000.
#include <string>
#include <system_error>

namespace xenrdp::xenstore {

/// Conditions the layer itself reports (errno values are carried as is).
enum class XsErrc {
    ok = 0,
    notConnected = 1000,      ///< the handle is dead or was never opened
    badPath = 1001,           ///< a path failed validation before it was sent
    retriesExhausted = 1002,  ///< a transaction kept conflicting (EAGAIN)
    stopped = 1003,           ///< the connection was stopped while the request waited
};

/// The "xenstore" category.  message() gives strerror() text for errno
/// values.  Thread-safe (a function-local constant object).
const std::error_category& xenstoreCategory() noexcept;

std::error_code make_error_code(XsErrc e) noexcept;

/// Wraps an errno value from libxenstore into the "xenstore" category.
/// errnoCode(0) is an empty (success) code.
std::error_code errnoCode(int err) noexcept;

/// True when `ec` means the handle is dead and must be reopened:
/// XsErrc::notConnected, or errno EPIPE, ECONNRESET, ECONNREFUSED,
/// ECONNABORTED, ENOTCONN, ESHUTDOWN, EBADF or EIO.  EINVAL is NOT counted:
/// xenstored also answers EINVAL to a malformed request, so a dead handle
/// that answers EINVAL is caught by the Connection's liveness probe instead.
bool isConnectionLoss(const std::error_code& ec) noexcept;

}  // namespace xenrdp::xenstore

template <>
struct std::is_error_code_enum<xenrdp::xenstore::XsErrc> : std::true_type {};
