#include <metrics/guest_rules.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <optional>
#include <set>
#include <utility>
#include <vector>

namespace xenrdp::metrics {

namespace {

// ---------------------------------------------------------------- sanitizer

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

bool isContinuation(unsigned char b) noexcept {
    return (b & 0xC0U) == 0x80U;
}

/// Appends `piece` unless that would pass `maxBytes`; returns false (and
/// appends nothing) when the output is full.
bool appendBounded(std::string& out, std::string_view piece, std::size_t maxBytes) {
    if (out.size() + piece.size() > maxBytes) {
        return false;
    }
    out.append(piece);
    return true;
}

// ------------------------------------------------------------- tree helpers

bool startsWith(std::string_view s, std::string_view prefix) noexcept {
    return s.substr(0, prefix.size()) == prefix;
}

std::optional<std::string> lookup(const GuestTree& tree, const std::string& key) {
    auto it = tree.find(key);
    if (it == tree.end()) {
        return std::nullopt;
    }
    return std::string(it->second);
}

/// The keys below `dir` + "/" in the sorted tree, as a range of iterators.
std::pair<GuestTree::const_iterator, GuestTree::const_iterator> below(const GuestTree& tree,
                                                                     const std::string& dir) {
    const std::string prefix = dir + "/";
    auto first = tree.lower_bound(prefix);
    auto last = first;
    while (last != tree.end() && startsWith(last->first, prefix)) {
        ++last;
    }
    return {first, last};
}

/// Names of the direct children of `dir`, as `xs_directory` would list them,
/// deduced from the keys present (a directory node may have no key itself).
std::vector<std::string> children(const GuestTree& tree, const std::string& dir) {
    std::set<std::string> names;
    const std::size_t skip = dir.size() + 1;
    auto [first, last] = below(tree, dir);
    for (auto it = first; it != last; ++it) {
        const std::string_view rest = std::string_view(it->first).substr(skip);
        const std::string_view name = rest.substr(0, rest.find('/'));
        if (!name.empty()) {
            names.emplace(name);
        }
    }
    return {names.begin(), names.end()};
}

std::string join(std::string_view a, std::string_view b) {
    std::string out;
    out.reserve(a.size() + 1 + b.size());
    out.append(a).append("/").append(b);
    return out;
}

/// A decimal index as xapi's int_of_string would accept in practice; signs,
/// hex and anything else are refused (the entry is then ignored).
std::optional<std::uint64_t> parseIndex(std::string_view s) {
    std::uint64_t value = 0;
    const char* end = s.data() + s.size();
    auto [ptr, ec] = std::from_chars(s.data(), end, value);
    if (s.empty() || ec != std::errc{} || ptr != end) {
        return std::nullopt;
    }
    return value;
}

/// Children of `dir` that are decimal indices, in numeric order (stable for
/// equal numbers such as "1" and "01").
std::vector<std::string> indexChildren(const GuestTree& tree, const std::string& dir) {
    std::vector<std::pair<std::uint64_t, std::string>> indexed;
    for (auto& name : children(tree, dir)) {
        if (auto n = parseIndex(name)) {
            indexed.emplace_back(*n, std::move(name));
        }
    }
    std::stable_sort(indexed.begin(), indexed.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<std::string> out;
    out.reserve(indexed.size());
    for (auto& entry : indexed) {
        out.push_back(std::move(entry.second));
    }
    return out;
}

/// Adds `mapKey` = value of `xsKey` if the key exists; the first writer of
/// a map key wins, so the order of the rules decides clashes.
void copyIfPresent(const GuestTree& tree, const std::string& xsKey, std::string mapKey,
                   StringMap& out) {
    if (auto value = lookup(tree, xsKey)) {
        out.emplace(std::move(mapKey), std::move(*value));
    }
}

void capKeys(StringMap& map, std::size_t maxKeys) {
    // Keep the lexicographically first keys: deterministic whatever the
    // order in which the guest wrote them.
    while (map.size() > maxKeys) {
        map.erase(std::prev(map.end()));
    }
}

// ------------------------------------------------------------------- rules

StringMap deriveOther(const GuestTree& tree) {
    StringMap other;
    const auto cantSuspendReason = lookup(tree, "data/cant_suspend_reason");
    auto [first, last] = below(tree, "control");
    for (auto it = first; it != last; ++it) {
        const std::string_view name = std::string_view(it->first).substr(8);  // after "control/"
        if (name.empty() || name.find('/') != std::string_view::npos) {
            continue;  // deeper nodes (control/batcmd/...) are not "other" keys
        }
        if (name == "feature-suspend" && cantSuspendReason) {
            other.emplace("data-cant-suspend-reason", *cantSuspendReason);
        } else {
            other.emplace(std::string(name), std::string(it->second));
        }
    }
    // data/ts is the one data/ key xapi copies; it wins over a guest-written
    // control/data-ts because XenCenter reads RDP state from it.
    if (auto ts = lookup(tree, "data/ts")) {
        other.insert_or_assign("data-ts", *ts);
    }
    return other;
}

/// New layout: <base>/<vifType>/<n>/{ipv4,ipv6}/<i>.
void deriveVifNetworks(const GuestTree& tree, const std::string& vifDir,
                       const std::vector<std::string>& vifs, StringMap& out) {
    for (const auto& n : vifs) {
        const std::string vifPath = join(vifDir, n);
        bool haveIp = false;
        for (const auto& i : indexChildren(tree, join(vifPath, "ipv4"))) {
            const std::string xsKey = vifPath + "/ipv4/" + i;
            auto value = lookup(tree, xsKey);
            if (!value) {
                continue;
            }
            if (!haveIp) {
                // "<n>/ip" is the lowest-indexed IPv4 address, for older clients.
                out.emplace(join(n, "ip"), *value);
                haveIp = true;
            }
            out.emplace(n + "/ipv4/" + i, std::move(*value));
        }
        for (const auto& i : indexChildren(tree, join(vifPath, "ipv6"))) {
            copyIfPresent(tree, vifPath + "/ipv6/" + i, n + "/ipv6/" + i, out);
        }
    }
}

/// Legacy layout: <base>/<iface><n>/ip and <base>/<iface><n>/ipv6/<i>/addr.
void deriveLegacyNetworks(const GuestTree& tree, const std::string& base, StringMap& out) {
    static constexpr std::string_view kPrefixes[] = {"eth", "xenbr", "eno", "ens", "emp", "enx"};
    for (const auto& iface : children(tree, base)) {
        auto prefix = std::find_if(std::begin(kPrefixes), std::end(kPrefixes),
                                   [&iface](std::string_view p) { return startsWith(iface, p); });
        if (prefix == std::end(kPrefixes)) {
            continue;
        }
        const std::string n = iface.substr(prefix->size());
        const std::string ifacePath = join(base, iface);
        if (auto ip = lookup(tree, join(ifacePath, "ip"))) {
            out.emplace(join(n, "ip"), *ip);
            out.emplace(n + "/ipv4/0", std::move(*ip));
        }
        for (const auto& i : children(tree, join(ifacePath, "ipv6"))) {
            copyIfPresent(tree, ifacePath + "/ipv6/" + i + "/addr", n + "/ipv6/" + i, out);
        }
    }
}

void deriveNetworksFrom(const GuestTree& tree, const std::string& base, const std::string& vifType,
                        StringMap& out) {
    // As xapi: the per-VIF layout, when present, replaces the legacy one.
    const std::string vifDir = join(base, vifType);
    const auto vifs = children(tree, vifDir);
    if (vifs.empty()) {
        deriveLegacyNetworks(tree, base, out);
    } else {
        deriveVifNetworks(tree, vifDir, vifs, out);
    }
}

StringMap deriveOsVersion(const GuestTree& tree) {
    StringMap os;
    copyIfPresent(tree, "data/os_name", "name", os);
    copyIfPresent(tree, "data/os_uname", "uname", os);
    copyIfPresent(tree, "data/os_distro", "distro", os);
    copyIfPresent(tree, "data/os_majorver", "major", os);
    copyIfPresent(tree, "data/os_minorver", "minor", os);
    copyIfPresent(tree, "attr/os/spmajor", "spmajor", os);
    copyIfPresent(tree, "attr/os/spminor", "spminor", os);
    return os;
}

/// drivers/<i> = "Vendor NAME version attr" -> lowercase NAME = "Vendor version attr".
void deriveWindowsDrivers(const GuestTree& tree, std::size_t maxKeys, StringMap& out) {
    std::size_t taken = 0;
    for (const auto& i : indexChildren(tree, "drivers")) {
        if (taken >= maxKeys) {
            break;
        }
        auto value = lookup(tree, join("drivers", i));
        if (!value) {
            continue;
        }
        // Split at the first three spaces; the fourth field runs to a newline.
        std::string_view rest = *value;
        std::array<std::string_view, 4> fields{};
        for (std::size_t f = 0; f < 3; ++f) {
            const std::size_t space = rest.find(' ');
            fields[f] = rest.substr(0, space);
            rest = space == std::string_view::npos ? std::string_view{} : rest.substr(space + 1);
        }
        fields[3] = rest.substr(0, rest.find('\n'));
        if (fields[0].empty() || fields[1].empty()) {
            continue;  // not in the documented format: ignored, as xapi does
        }
        std::string name(fields[1]);
        std::transform(name.begin(), name.end(), name.begin(), [](char c) {
            return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
        });
        std::string version(fields[0]);
        version.append(" ").append(fields[2]).append(" ").append(fields[3]);
        out.emplace(std::move(name), std::move(version));
        ++taken;
    }
}

StringMap derivePvDriversVersion(const GuestTree& tree, std::size_t maxKeys) {
    StringMap pv;
    copyIfPresent(tree, "attr/PVAddons/MajorVersion", "major", pv);
    copyIfPresent(tree, "attr/PVAddons/MinorVersion", "minor", pv);
    copyIfPresent(tree, "attr/PVAddons/MicroVersion", "micro", pv);
    copyIfPresent(tree, "attr/PVAddons/BuildVersion", "build", pv);
    copyIfPresent(tree, "attr/PVAddons/Application", "application", pv);
    deriveWindowsDrivers(tree, maxKeys, pv);
    // xapi defaults micro to "-1" so that clients comparing versions work
    // with agents that predate the key; an empty map stays empty.
    if (!pv.empty()) {
        pv.emplace("micro", "-1");
    }
    return pv;
}

StringMap deriveNetbiosName(const GuestTree& tree) {
    StringMap netbios;
    if (auto host = lookup(tree, "data/host_name_dns")) {
        if (auto domain = lookup(tree, "data/domain")) {
            host->append(".").append(*domain);
        }
        netbios.emplace("host_name", std::move(*host));
    }
    return netbios;
}

StringMap deriveServices(const GuestTree& tree) {
    StringMap services;
    auto [first, last] = below(tree, "data/service");
    for (auto it = first; it != last; ++it) {
        const std::string_view rest = std::string_view(it->first).substr(13);  // after "data/service/"
        const std::size_t slash = rest.find('/');
        if (slash == 0 || slash == std::string_view::npos || slash + 1 == rest.size() ||
            rest.find('/', slash + 1) != std::string_view::npos) {
            continue;  // only data/service/<s>/<k>
        }
        services.emplace(std::string(rest), std::string(it->second));
    }
    return services;
}

Tristate deriveTristate(const GuestTree& tree, const std::string& key) {
    auto value = lookup(tree, key);
    if (value == "1") {
        return Tristate::Yes;
    }
    if (value == "0") {
        return Tristate::No;
    }
    return Tristate::Unspecified;
}

bool derivePvDriversDetected(const GuestTree& tree) {
    for (const char* dir : {"attr/PVAddons", "drivers", "data"}) {
        auto [first, last] = below(tree, dir);
        if (first != last) {
            return true;
        }
    }
    auto [first, last] = below(tree, "control");
    return std::any_of(first, last, [](const auto& entry) {
        return startsWith(entry.first, "control/feature-");
    });
}

}  // namespace

std::string sanitizeGuestValue(std::string_view raw, std::size_t maxBytes, bool* changed) {
    std::string out;
    out.reserve(std::min(raw.size(), maxBytes));
    bool altered = false;
    std::size_t i = 0;
    while (i < raw.size()) {
        const auto b0 = static_cast<unsigned char>(raw[i]);
        std::size_t length = 1;
        bool valid = true;
        if (b0 < 0x80U) {
            // C0 controls (but tab, LF, CR) and DEL are not allowed in XML 1.0
            // or are invisible noise; xapi's rpclib drops them too.
            if ((b0 < 0x20U && b0 != '\t' && b0 != '\n' && b0 != '\r') || b0 == 0x7FU) {
                altered = true;
                ++i;
                continue;
            }
        } else {
            // Table 3-7 of the Unicode standard: the second byte's range
            // excludes overlongs (E0, F0), surrogates (ED) and > U+10FFFF (F4).
            unsigned char lo = 0x80U;
            unsigned char hi = 0xBFU;
            if (b0 >= 0xC2U && b0 <= 0xDFU) {
                length = 2;
            } else if (b0 >= 0xE0U && b0 <= 0xEFU) {
                length = 3;
                lo = b0 == 0xE0U ? 0xA0U : 0x80U;
                hi = b0 == 0xEDU ? 0x9FU : 0xBFU;
            } else if (b0 >= 0xF0U && b0 <= 0xF4U) {
                length = 4;
                lo = b0 == 0xF0U ? 0x90U : 0x80U;
                hi = b0 == 0xF4U ? 0x8FU : 0xBFU;
            } else {
                valid = false;  // C0, C1, F5..FF or a stray continuation byte
            }
            std::size_t good = 1;  // bytes of the sequence seen valid so far
            while (valid && good < length) {
                if (i + good >= raw.size()) {
                    valid = false;
                    break;
                }
                const auto b = static_cast<unsigned char>(raw[i + good]);
                const bool ok = good == 1 ? (b >= lo && b <= hi) : isContinuation(b);
                if (!ok) {
                    valid = false;
                    break;
                }
                ++good;
            }
            if (!valid) {
                // One U+FFFD per maximal subpart: the lead byte plus the
                // continuation bytes that were still acceptable.
                altered = true;
                if (!appendBounded(out, kReplacement, maxBytes)) {
                    break;
                }
                i += good;
                continue;
            }
            // U+FFFE and U+FFFF (EF BF BE/BF) are valid UTF-8 but not XML characters.
            if (b0 == 0xEFU && static_cast<unsigned char>(raw[i + 1]) == 0xBFU &&
                static_cast<unsigned char>(raw[i + 2]) >= 0xBEU) {
                altered = true;
                if (!appendBounded(out, kReplacement, maxBytes)) {
                    break;
                }
                i += 3;
                continue;
            }
        }
        if (!appendBounded(out, raw.substr(i, length), maxBytes)) {
            altered = true;  // truncated at this character boundary
            break;
        }
        i += length;
    }
    if (i < raw.size()) {
        altered = true;
    }
    if (changed != nullptr) {
        *changed = altered;
    }
    return out;
}

GuestFields deriveGuestFields(const GuestTree& tree, const GuestLimits& limits) {
    GuestFields fields;
    fields.other = deriveOther(tree);
    deriveNetworksFrom(tree, "attr", "vif", fields.networks);
    deriveNetworksFrom(tree, "xenserver/attr", "net-sriov-vf", fields.networks);
    fields.osVersion = deriveOsVersion(tree);
    fields.pvDriversVersion = derivePvDriversVersion(tree, limits.maxKeysPerTree);
    fields.pvDriversDetected = derivePvDriversDetected(tree);
    fields.netbiosName = deriveNetbiosName(tree);
    fields.services = deriveServices(tree);
    fields.canUseHotplugVbd = deriveTristate(tree, "feature/hotplug/vbd");
    fields.canUseHotplugVif = deriveTristate(tree, "feature/hotplug/vif");

    capKeys(fields.other, limits.maxKeysPerTree);
    capKeys(fields.networks, limits.maxKeysPerTree);
    capKeys(fields.pvDriversVersion, limits.maxKeysPerTree);
    capKeys(fields.services, limits.maxKeysPerTree);
    return fields;
}

bool applyGuestFields(GuestMetricsRecord& record, GuestFields fields, TimePoint now) {
    GuestMetricsRecord next = record;
    next.osVersion = std::move(fields.osVersion);
    next.pvDriversVersion = std::move(fields.pvDriversVersion);
    next.pvDriversDetected = fields.pvDriversDetected;
    next.pvDriversUpToDate = fields.pvDriversDetected;
    next.networks = std::move(fields.networks);
    next.other = std::move(fields.other);
    next.netbiosName = std::move(fields.netbiosName);
    next.services = std::move(fields.services);
    next.canUseHotplugVbd = fields.canUseHotplugVbd;
    next.canUseHotplugVif = fields.canUseHotplugVif;
    // last_updated is not compared: as in xapi it moves iff a field moved.
    if (next == record) {
        return false;
    }
    next.lastUpdated = now;
    record = std::move(next);
    return true;
}

}  // namespace xenrdp::metrics
