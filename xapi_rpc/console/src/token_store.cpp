#include <xapi_rpc/console/token_store.hpp>

#include <algorithm>
#include <array>
#include <memory>
#include <stdexcept>

#include <openssl/evp.h>

#include <metrics/records.hpp>

namespace xenrdp::xapi_rpc::console {

ConsoleTokenStore::ConsoleTokenStore(std::chrono::milliseconds ttl, std::function<Clock::time_point()> now)
    : ttl_(ttl), now_(std::move(now))
{
}

std::string ConsoleTokenStore::issue(TokenTarget target)
{
    // metrics::randomUuid() reads getrandom(2), the kernel CSPRNG.
    std::string token = metrics::randomUuid();
    tokens_[hashToken(token)] = Entry{std::move(target), now_() + ttl_};
    return token;
}

namespace {
template <class Item>
bool expired(const Item& item, std::chrono::steady_clock::time_point now)
{
    return now >= item.second.expires;
}
}  // namespace

std::optional<TokenTarget> ConsoleTokenStore::lookup(std::string_view token) const
{
    auto it = tokens_.find(hashToken(token));
    if (it == tokens_.end() || expired(*it, now_())) return std::nullopt;
    return it->second.target;
}

std::size_t ConsoleTokenStore::liveCount() const
{
    const auto now = now_();
    return static_cast<std::size_t>(
        std::count_if(tokens_.begin(), tokens_.end(), [now](const auto& item) { return !expired(item, now); }));
}

std::size_t ConsoleTokenStore::sweep()
{
    const auto now = now_();
    return std::erase_if(tokens_, [now](const auto& item) { return expired(item, now); });
}

std::size_t ConsoleTokenStore::dropVm(const std::string& vmRef, std::int64_t keepDomid)
{
    return std::erase_if(tokens_, [&vmRef, keepDomid](const auto& item) {
        const TokenTarget& t = item.second.target;
        return t.vmRef == vmRef && (keepDomid < 0 || t.domid != keepDomid);
    });
}

std::string ConsoleTokenStore::hashToken(std::string_view token)
{
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int length = 0;
    if (EVP_Digest(token.data(), token.size(), digest.data(), &length, EVP_sha256(), nullptr) != 1)
        throw std::runtime_error("SHA-256 failed");
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    out.reserve(2 * length);
    for (unsigned int i = 0; i < length; ++i) {
        out.push_back(kHex[digest[i] >> 4]);
        out.push_back(kHex[digest[i] & 0x0f]);
    }
    return out;
}

}  // namespace xenrdp::xapi_rpc::console
