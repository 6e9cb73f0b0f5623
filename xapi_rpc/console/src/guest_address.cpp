#include <xapi_rpc/console/guest_address.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <charconv>
#include <tuple>
#include <vector>

namespace xenrdp::xapi_rpc::console {
namespace {

std::optional<unsigned> number(std::string_view s)
{
    unsigned v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
    return v;
}

enum class Family { V4, V6, None };

Family familyOf(const std::string& text)
{
    in_addr v4{};
    in6_addr v6{};
    if (::inet_pton(AF_INET, text.c_str(), &v4) == 1) return Family::V4;
    if (::inet_pton(AF_INET6, text.c_str(), &v6) == 1) {
        const bool linkLocal = v6.s6_addr[0] == 0xfe && (v6.s6_addr[1] & 0xc0) == 0x80;
        return linkLocal ? Family::None : Family::V6;
    }
    return Family::None;
}

}  // namespace

std::optional<std::string> guestAddress(const metrics::CompactMap& networks)
{
    // (family, device, kind: 0 = "ip", 1 = "ipvN/<i>", index) -> value
    using Key = std::tuple<int, unsigned, int, unsigned>;
    std::optional<std::pair<Key, std::string>> best;
    for (const auto& [key, value] : networks) {
        const std::string_view k = key;
        const auto slash = k.find('/');
        if (slash == std::string_view::npos) continue;
        const auto device = number(k.substr(0, slash));
        if (!device) continue;
        const std::string_view rest = k.substr(slash + 1);
        int kind = 0;
        unsigned index = 0;
        if (rest == "ip") {
            kind = 0;
        } else if (rest.rfind("ipv4/", 0) == 0 || rest.rfind("ipv6/", 0) == 0) {
            const auto i = number(rest.substr(5));
            if (!i) continue;
            kind = 1;
            index = *i;
        } else {
            continue;
        }
        const Family family = familyOf(std::string(value));
        if (family == Family::None) continue;
        if (rest.rfind("ipv4/", 0) == 0 && family != Family::V4) continue;
        if (rest.rfind("ipv6/", 0) == 0 && family != Family::V6) continue;
        const Key rank{family == Family::V4 ? 0 : 1, *device, kind, index};
        if (!best || rank < best->first) best.emplace(rank, std::string(value));
    }
    if (!best) return std::nullopt;
    return best->second;
}

bool rdpReported(const metrics::CompactMap& other)
{
    auto it = other.find("data-ts");
    return it != other.end() && !it->second.empty() && it->second != "0";
}

std::string rdpLocation(const std::string& address, std::uint16_t port)
{
    const bool v6 = address.find(':') != std::string::npos;
    return "rdp://" + (v6 ? "[" + address + "]" : address) + ":" + std::to_string(port);
}

}  // namespace xenrdp::xapi_rpc::console
