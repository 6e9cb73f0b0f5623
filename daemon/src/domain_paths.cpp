#include "domain_paths.hpp"

#include <algorithm>

namespace xenrdp::daemon::detail {
namespace {

constexpr std::string_view kLocalDomain = "/local/domain/";

bool isHex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool isAlnum(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/// xenstore's own path alphabet (xenstored rejects anything else).
bool isPathChar(char c)
{
    return isAlnum(c) || c == '-' || c == '_' || c == '@';
}

bool startsWith(std::string_view s, std::string_view prefix)
{
    return s.size() >= prefix.size() && s.substr(0, prefix.size()) == prefix;
}

/// `rel` equals `base` or lies below it.
bool within(std::string_view rel, std::string_view base)
{
    return rel == base || (startsWith(rel, base) && rel.size() > base.size() && rel[base.size()] == '/');
}

}  // namespace

std::optional<std::uint32_t> parseDomid(std::string_view text)
{
    if (text.empty() || text.size() > 5)
        return std::nullopt;
    if (text.size() > 1 && text[0] == '0')
        return std::nullopt;
    std::uint32_t value = 0;
    for (char c : text) {
        if (c < '0' || c > '9')
            return std::nullopt;
        value = value * 10U + static_cast<std::uint32_t>(c - '0');
    }
    if (value >= kFirstReservedDomid)
        return std::nullopt;
    return value;
}

std::optional<std::string> normalizeUuid(std::string_view text)
{
    if (text.size() != 36)
        return std::nullopt;
    std::string out(text);
    for (std::size_t i = 0; i < out.size(); ++i) {
        const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash) {
            if (out[i] != '-')
                return std::nullopt;
            continue;
        }
        if (!isHex(out[i]))
            return std::nullopt;
        if (out[i] >= 'A' && out[i] <= 'F')
            out[i] = static_cast<char>(out[i] - 'A' + 'a');
    }
    return out;
}

std::optional<std::string> vmPathId(std::string_view value)
{
    constexpr std::string_view kPrefix = "/vm/";
    if (!startsWith(value, kPrefix))
        return std::nullopt;
    std::string_view id = value.substr(kPrefix.size());
    if (id.empty() || id.size() > 64)
        return std::nullopt;
    if (!std::all_of(id.begin(), id.end(), [](char c) { return isAlnum(c) || c == '-' || c == '_'; }))
        return std::nullopt;
    return std::string(id);
}

std::string domainPath(std::uint32_t domid)
{
    return std::string(kLocalDomain) + std::to_string(domid);
}

std::optional<DomainPath> parseDomainPath(std::string_view path)
{
    if (!startsWith(path, kLocalDomain))
        return std::nullopt;
    std::string_view rest = path.substr(kLocalDomain.size());
    const std::size_t slash = rest.find('/');
    auto domid = parseDomid(rest.substr(0, slash));
    if (!domid)
        return std::nullopt;
    DomainPath out;
    out.domid = *domid;
    if (slash == std::string_view::npos)
        return out;
    std::string_view rel = rest.substr(slash + 1);
    // No empty component anywhere: rejects "", "a//b", a trailing '/'.
    if (rel.empty() || rel.front() == '/' || rel.back() == '/')
        return std::nullopt;
    for (std::size_t i = 0; i < rel.size(); ++i) {
        const char c = rel[i];
        if (c == '/') {
            if (rel[i - 1] == '/')
                return std::nullopt;
            continue;
        }
        if (!isPathChar(c))
            return std::nullopt;
    }
    out.rel = std::string(rel);
    return out;
}

const std::vector<WatchedBase>& watchedBases()
{
    // xenopsd's list (reference §4.1) cut to what VM_guest_metrics uses.
    // Depths are xenopsd's ls_lR depths plus one (its depth 0 keeps the
    // children): data/service/<s>/<k>, xenserver/attr/net-sriov-vf/<n>/ipv4/<i>.
    static const std::vector<WatchedBase> bases = {
        {"control", 1},
        {"data/ts", 0},
        {"attr", 4},
        {"feature/hotplug", 1},
        {"data/service", 2},
        {"xenserver/attr", 4},
    };
    return bases;
}

const std::vector<ReadOp>& extraReads()
{
    static const std::vector<ReadOp> extras = {
        {"data/os_name", 0},         {"data/os_uname", 0},
        {"data/os_distro", 0},       {"data/os_majorver", 0},
        {"data/os_minorver", 0},     {"data/host_name_dns", 0},
        {"data/domain", 0},          {"data/cant_suspend_reason", 0},
        // Below attr (depth 4), so three levels keep the two views equal.
        {"attr/PVAddons", 3},
        // drivers/<i>: read by xenopsd (ls_lR depth 0) but not watched.
        {"drivers", 1},
    };
    return extras;
}

std::optional<std::string_view> watchedBaseOf(std::string_view rel)
{
    for (const WatchedBase& base : watchedBases())
        if (within(rel, base.rel))
            return base.rel;
    return std::nullopt;
}

bool isListingRoot(std::string_view rel)
{
    for (const WatchedBase& base : watchedBases())
        if (rel == base.rel)
            return true;
    for (const ReadOp& op : extraReads())
        if (op.depth > 0 && rel == op.rel)
            return true;
    return false;
}

bool excludedFromListing(std::string_view rel)
{
    return within(rel, "attr/os/hotfixes");
}

std::optional<ReadOp> readForEvent(std::string_view rel)
{
    if (excludedFromListing(rel))
        return std::nullopt;
    for (const WatchedBase& base : watchedBases()) {
        if (!within(rel, base.rel))
            continue;
        if (rel == base.rel)
            return ReadOp{std::string(rel), base.depth};
        // Keep at most `depth` components below the base: deeper nodes are
        // not kept, so the deepest kept ancestor is what changed for us.
        // What remains of the depth below the node is refreshed with it.
        std::size_t end = base.rel.size();
        int level = 0;
        while (level < base.depth && end != std::string_view::npos) {
            end = rel.find('/', end + 1);
            ++level;
        }
        const int remaining = end == std::string_view::npos ? base.depth - level : 0;
        return ReadOp{std::string(rel.substr(0, end)), remaining};
    }
    return std::nullopt;
}

std::string_view parentOf(std::string_view rel)
{
    const std::size_t slash = rel.rfind('/');
    return slash == std::string_view::npos ? std::string_view{} : rel.substr(0, slash);
}

bool covers(const ReadOp& outer, const ReadOp& inner)
{
    if (inner.rel == outer.rel)
        return inner.depth <= outer.depth;
    if (outer.depth == 0 || inner.rel.rfind(outer.rel + "/", 0) != 0)
        return false;
    const auto below = std::count(inner.rel.begin() + static_cast<std::ptrdiff_t>(outer.rel.size()),
                                  inner.rel.end(), '/');
    return below + inner.depth <= outer.depth;
}

std::vector<ReadOp> withoutCovered(std::vector<ReadOp> ops)
{
    // Decide for every op first: each is compared with all the others.
    std::vector<bool> covered(ops.size(), false);
    for (std::size_t i = 0; i < ops.size(); ++i) {
        for (std::size_t j = 0; j < ops.size() && !covered[i]; ++j) {
            if (j == i || !covers(ops[j], ops[i]))
                continue;
            // Of two ops covering each other (equal), the earlier one stays.
            covered[i] = !covers(ops[i], ops[j]) || j < i;
        }
    }
    std::vector<ReadOp> kept;
    kept.reserve(ops.size());
    for (std::size_t i = 0; i < ops.size(); ++i)
        if (!covered[i])
            kept.push_back(std::move(ops[i]));
    return kept;
}

}  // namespace xenrdp::daemon::detail
