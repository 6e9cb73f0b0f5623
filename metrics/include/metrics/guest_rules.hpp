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

#include <metrics/records.hpp>

namespace xenrdp::metrics {

/// What the daemon read below /local/domain/<domid>/: paths relative to that
/// node ("control/feature-ts2", "data/ts", "attr/vif/0/ipv4/0", ...) mapped to
/// their (already sanitized) values.  Includes only the watched subtrees.
using GuestTree = std::map<std::string, std::string>;

/// Caps on what one guest can make the daemon keep.
struct GuestLimits {
    std::size_t maxValueBytes = 4096;   ///< longer values are truncated
    std::size_t maxKeysPerTree = 256;   ///< children kept per directory (control/, attr/vif, ...)
    std::size_t maxTotalKeys = 2048;    ///< keys kept per domain in all
};

/// Makes a guest-written value safe for XML 1.0 and JSON: invalid UTF-8
/// sequences become U+FFFD, control characters other than tab, LF and CR
/// are dropped (as xapi's rpclib does), and the result is cut to
/// `maxBytes` on a character boundary.  Sets `*changed` if anything was altered.
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

/// Applies xapi's rules to a tree:
///  - other: every direct child X of control/ -> other[X]; data/ts -> other["data-ts"];
///    control/feature-suspend replaced by data-cant-suspend-reason when data/cant_suspend_reason exists
///  - networks: attr/vif/<n>/ipv4/<i> -> "<n>/ipv4/<i>" (+ "<n>/ip" from the first),
///    attr/vif/<n>/ipv6/<i> -> "<n>/ipv6/<i>", legacy attr/eth<n>/ip and attr/eth<n>/ipv6/<i>/addr
///  - os_version from data/os_*, attr/os/sp*; PV_drivers_version from attr/PVAddons/*
///  - can_use_hotplug_* from feature/hotplug/{vbd,vif}
GuestFields deriveGuestFields(const GuestTree& tree);

/// Copies `fields` into `record`.  If anything differs, sets last_updated to
/// `now` and returns true; otherwise leaves the record as it was.
bool applyGuestFields(GuestMetricsRecord& record, const GuestFields& fields, TimePoint now);

}  // namespace xenrdp::metrics
