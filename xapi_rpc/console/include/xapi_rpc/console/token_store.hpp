#pragma once
/// ConsoleTokenStore: the console auth tokens handed out in console URLs.
///
/// A token is a random version-4 UUID (122 bits from getrandom(2)); the store
/// keeps only its SHA-256 (hex) with what it resolves to and its expiry, so
/// a memory dump or a log never yields a usable token.  As in Nova, a token
/// may be resolved any number of times until it expires; expired ones
/// resolve to nothing at once and are removed by sweep().
///
/// Threading: not thread-safe; used on the io executor only.  Nothing blocks.
/// Failure: issue() throws std::system_error if the kernel CSPRNG fails, and
/// std::runtime_error if SHA-256 is unavailable; the rest only bad_alloc.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace xenrdp::xapi_rpc::console {

/// What a token resolves to.
struct TokenTarget {
    std::string vmRef;
    std::string vmUuid;
    std::int64_t domid = -1;  ///< the domain the token was issued for
    std::string host;
    std::uint16_t port = 0;
};

class ConsoleTokenStore {
public:
    using Clock = std::chrono::steady_clock;

    /// `now` is the clock (tests pass a fake one).
    explicit ConsoleTokenStore(std::chrono::milliseconds ttl,
                               std::function<Clock::time_point()> now = &Clock::now);

    /// A new token for `target`, valid for the TTL from now.
    std::string issue(TokenTarget target);
    /// What a live token resolves to; nullopt if unknown or expired.
    [[nodiscard]] std::optional<TokenTarget> lookup(std::string_view token) const;
    /// Removes expired tokens; returns how many.
    std::size_t sweep();
    /// Removes the tokens of `vmRef` issued for another domain than
    /// `keepDomid` (-1: all of them), for a VM that halted, rebooted or went.
    std::size_t dropVm(const std::string& vmRef, std::int64_t keepDomid = -1);
    /// Applies to tokens issued from now on.
    void setTtl(std::chrono::milliseconds ttl) noexcept { ttl_ = ttl; }
    [[nodiscard]] std::chrono::milliseconds ttl() const noexcept { return ttl_; }
    /// Tokens held, expired ones not yet swept included.
    [[nodiscard]] std::size_t size() const noexcept { return tokens_.size(); }
    /// Tokens that still resolve now (what xenrdpd_console_tokens shows).
    [[nodiscard]] std::size_t liveCount() const;

    /// Lowercase hex SHA-256 of the token text: the store's key, and what
    /// logs may show a prefix of.
    [[nodiscard]] static std::string hashToken(std::string_view token);
    /// True if the store holds this hash (for tests; the token is not needed).
    [[nodiscard]] bool holdsHash(const std::string& hash) const { return tokens_.count(hash) != 0; }

private:
    struct Entry {
        TokenTarget target;
        Clock::time_point expires;
    };
    std::chrono::milliseconds ttl_;
    std::function<Clock::time_point()> now_;
    std::unordered_map<std::string, Entry> tokens_;  ///< SHA-256 hex -> entry
};

}  // namespace xenrdp::xapi_rpc::console
