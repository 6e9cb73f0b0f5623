#include "crypt_verify.hpp"

#include <crypt.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>

namespace xenrdp::xapi_rpc::auth::detail {
namespace {

struct Scheme {
    std::string_view prefix;
    std::string_view label;
    std::size_t checksumLength;  // characters after the last '$'
};

constexpr std::array<Scheme, 3> schemes{{
    {"$6$", "SHA-512", 86},
    {"$5$", "SHA-256", 43},
    {"$y$", "yescrypt", 43},
}};

bool isCryptBase64(char c) noexcept
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '/';
}

// Short, hash-free description of what the line's scheme looks like.
std::string describeScheme(std::string_view hash)
{
    if (hash.size() < 2 || hash.front() != '$') {
        return "a hash without a '$id$' prefix (DES or plain text?)";
    }
    const auto end = hash.find('$', 1);
    const std::string_view id = hash.substr(0, std::min<std::size_t>(end == hash.npos ? 4 : end + 1, 8));
    return "hash scheme '" + std::string(id) + "'";
}

bool constantTimeEqual(std::string_view a, std::string_view b) noexcept
{
    // The hash length is public (it follows from the scheme); the content is not.
    if (a.size() != b.size()) {
        return false;
    }
    unsigned char diff = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        diff = static_cast<unsigned char>(diff | (static_cast<unsigned char>(a[i]) ^
                                                  static_cast<unsigned char>(b[i])));
    }
    // volatile read keeps the compiler from turning the loop into an early exit.
    const volatile unsigned char result = diff;
    return result == 0;
}

}  // namespace

std::optional<std::string> checkHashFormat(std::string_view hash)
{
    const auto scheme = std::find_if(schemes.begin(), schemes.end(), [hash](const Scheme& s) {
        return hash.substr(0, s.prefix.size()) == s.prefix;
    });
    if (scheme == schemes.end()) {
        return "unsupported " + describeScheme(hash) +
               "; only SHA-512 ($6$), SHA-256 ($5$) and yescrypt ($y$) crypt hashes are accepted";
    }
    const std::string bad = "malformed " + std::string(scheme->label) + " hash";
    const auto last = hash.rfind('$');
    const std::string_view checksum = hash.substr(last + 1);
    if (last < scheme->prefix.size() || checksum.size() != scheme->checksumLength ||
        !std::all_of(checksum.begin(), checksum.end(), isCryptBase64)) {
        return bad + " (expected " + std::to_string(scheme->checksumLength) +
               " characters after the salt, as 'mkpasswd -m sha-512' prints)";
    }
    const std::string text(hash);
    if (::crypt_checksalt(text.c_str()) == CRYPT_SALT_INVALID) {
        return bad + " (invalid salt or parameters)";
    }
    return std::nullopt;
}

bool verifyHash(const std::string& password, std::string_view hash)
{
    const std::string setting(hash);
    // crypt_data is ~32 KiB: heap, zeroed (its `initialized` field must start at 0).
    auto data = std::make_unique<crypt_data>();
    const char* out = ::crypt_r(password.c_str(), setting.c_str(), data.get());
    // crypt_r reports failure as NULL or a string starting with '*'.
    const bool ok = out != nullptr && out[0] != '*' && constantTimeEqual(out, hash);
    ::explicit_bzero(data.get(), sizeof(crypt_data));
    return ok;
}

std::string_view dummyHash() noexcept
{
    // SHA-512 of a random throwaway string; its only job is to cost what a real check costs.
    return "$6$xenrdpdUnknown$"
           "Zq2eQ5y9o0J6oX3nJb2yGf4S4a5c0qU0m0k6W9dXcT6e0jN0yq8b1HgQ9e6zR4eK2vV3lE8tM1oP7iS5uA0bC1";
}

}  // namespace xenrdp::xapi_rpc::auth::detail
