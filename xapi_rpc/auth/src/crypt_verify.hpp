#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace xenrdp::xapi_rpc::auth::detail {

/// Why `hash` is not an accepted crypt(3) string ($6$, $5$ or $y$ with a
/// well-formed salt and checksum), or nullopt when it is. The reason names
/// the scheme only, never the hash.
std::optional<std::string> checkHashFormat(std::string_view hash);

/// crypt_r(password, hash) compared with `hash` in constant time. Blocking
/// (CPU-bound); thread-safe; wipes crypt's scratch area. False on any error.
bool verifyHash(const std::string& password, std::string_view hash);

/// A valid $6$ hash that no password matches, to verify against for unknown users.
std::string_view dummyHash() noexcept;

}  // namespace xenrdp::xapi_rpc::auth::detail
