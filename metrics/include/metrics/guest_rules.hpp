#pragma once
/// xapi's rules for turning what a guest wrote in xenstore into the fields of
/// its VM_guest_metrics record (reference xapi-rdp-and-wire.md §3.2-3.3), and
/// the sanitizer that every guest-written value passes through.
///
/// Pure functions: no xenstore, no clock, no I/O.
#include <cstddef>
#include <map>
#include <string>
#include <string_view>

#include <metrics/guest_tree.hpp>
#include <metrics/records.hpp>

namespace xenrdp::metrics {

// GuestTree (metrics/guest_tree.hpp): what the daemon read below
// /local/domain/<domid>/, paths relative to that node ("control/feature-ts2",
// "data/ts", "attr/vif/0/ipv4/0", ...) with their (already sanitized)
// values.  Includes only the watched subtrees.

/// Caps on what one guest can make the daemon keep.
struct GuestLimits {
    std::size_t maxValueBytes = 4096;   ///< longer values are truncated (by sanitizeGuestValue's caller)
    std::size_t maxKeysPerTree = 256;   ///< keys kept per derived map (other, networks, services, ...)
    std::size_t maxTotalKeys = 2048;    ///< keys kept per domain in all (by whoever builds the GuestTree)
};

/// Makes a guest-written value safe for XML 1.0 and JSON: invalid UTF-8
/// sequences become U+FFFD, control characters other than tab, LF and CR
/// are dropped (as xapi's rpclib does), and the result is cut to
/// `maxBytes` on a character boundary.  Sets `*changed` if anything was altered.
/// Valid UTF-8 passes byte for byte, except U+FFFE and U+FFFF (not XML 1.0
/// characters), which become U+FFFD.  Overlong forms and surrogates are invalid.
/// Each maximal invalid subpart (Unicode ch. 3 "U+FFFD substitution") gives one U+FFFD.
std::string sanitizeGuestValue(std::string_view raw, std::size_t maxBytes,
                               bool* changed = nullptr);

/// The guest-derived fields of a VM_guest_metrics record.
struct GuestFields {
    StringMap osVersion;
    StringMap pvDriversVersion;
    bool pvDriversDetected = false;
    StringMap networks;
    StringMap other;
    StringMap netbiosName;
    StringMap services;
    Tristate canUseHotplugVbd = Tristate::Unspecified;
    Tristate canUseHotplugVif = Tristate::Unspecified;
    bool operator==(const GuestFields&) const = default;
};

/// Applies xapi's rules (xapi_guest_agent.ml get_initial_guest_metrics) to a tree:
///  - other: every direct child X of control/ -> other[X]; data/ts -> other["data-ts"];
///    control/feature-suspend replaced by data-cant-suspend-reason when data/cant_suspend_reason exists
///  - networks: attr/vif/<n>/ipv4/<i> -> "<n>/ipv4/<i>" (+ "<n>/ip" from the lowest index),
///    attr/vif/<n>/ipv6/<i> -> "<n>/ipv6/<i>"; only when attr/vif has no children, the
///    legacy attr/<eth|xenbr|eno|ens|emp|enx><n>/ip -> "<n>/ip" + "<n>/ipv4/0" and
///    attr/<iface>/ipv6/<i>/addr -> "<n>/ipv6/<i>"; the same for xenserver/attr/net-sriov-vf.
///    Non-numeric ip indices are ignored; on a key clash the first source wins.
///  - os_version from data/os_*, attr/os/sp*; PV_drivers_version from attr/PVAddons/* and
///    drivers/<i> ("Vendor NAME ver attr" -> name: "Vendor ver attr"); micro "-1" if missing from a non-empty map
///  - netbios_name {"host_name": data/host_name_dns[.data/domain]}; services data/service/<s>/<k>
///  - can_use_hotplug_* from feature/hotplug/{vbd,vif}
///  - pvDriversDetected (xenrdpd's rule; xapi gets it from xenopsd): true if the guest
///    wrote any control/feature-* key or any key below attr/PVAddons/, drivers/ or data/.
///    The toolstack's own control/ keys (platform-feature-*, has-vendor-device) don't count.
/// Every map keeps at most `limits.maxKeysPerTree` keys, the lexicographically first.
/// Values are used as they are (the caller sanitizes).  Never throws except bad_alloc.
GuestFields deriveGuestFields(const GuestTree& tree, const GuestLimits& limits = {});

/// Moves `fields` into `record` (and PV_drivers_up_to_date, deprecated, from
/// pvDriversDetected, as xapi sets it).  If anything differs, sets last_updated
/// to `now` and returns true; otherwise leaves the record as it was.
bool applyGuestFields(GuestMetricsRecord& record, GuestFields fields, TimePoint now);

}  // namespace xenrdp::metrics
