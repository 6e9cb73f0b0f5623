#pragma once
/// Pure helpers of the DomainWatcher: strict parsing of the paths and values
/// that reach it from xenstore, and the map of which guest subtrees it keeps.
///
/// Everything below /local/domain/<domid> is written by an untrusted guest,
/// so these functions accept only the exact shapes they know and answer
/// std::nullopt for anything else.  No I/O, no state; any thread.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace xenrdp::daemon::detail {

/// Domids at or above this are reserved by Xen (DOMID_FIRST_RESERVED).
inline constexpr std::uint32_t kFirstReservedDomid = 0x7FF0;

/// A domid written in canonical decimal ("0", "17"; no sign, no leading
/// zero, below kFirstReservedDomid).
std::optional<std::uint32_t> parseDomid(std::string_view text);

/// A UUID in 8-4-4-4-12 hex form (either case), returned in lowercase.
std::optional<std::string> normalizeUuid(std::string_view text);

/// The <id> of a toolstack "vm" node value "/vm/<id>", if <id> is one plain
/// path component (letters, digits, '-', '_'; at most 64 bytes).
std::optional<std::string> vmPathId(std::string_view value);

/// "/local/domain/<domid>" for a domid.
std::string domainPath(std::uint32_t domid);

/// An event path split as "/local/domain/<domid>/<rel>".  `rel` is empty
/// for the domain node itself.
struct DomainPath {
    std::uint32_t domid = 0;
    std::string rel;
};

/// Splits an absolute path below /local/domain strictly: canonical domid,
/// then zero or more components made of xenstore's path characters
/// (letters, digits, '-', '_', '@'), no empty component, no trailing '/'.
std::optional<DomainPath> parseDomainPath(std::string_view path);

/// One read the watcher asks of xenstore, relative to the domain node: the
/// subtree at `rel`, at most `depth` levels below it.  Kept are its leaves
/// and the nodes at the deepest level (depth 0: the node itself); a
/// listing root's own node is never kept.
struct ReadOp {
    std::string rel;
    int depth = 0;
    bool operator==(const ReadOp&) const = default;
};

/// A watched guest subtree.
struct WatchedBase {
    std::string_view rel;  ///< relative to the domain node, e.g. "control"
    int depth;             ///< levels kept below it (0: just the node)
};

/// The subtrees watched per guest domain (reference §4.1, reduced to what
/// VM_guest_metrics needs): control/ (one level), data/ts, attr/ (four
/// levels: attr/vif/<n>/ipv4/<i>, attr/eth<n>/ipv6/<i>/addr),
/// feature/hotplug/ (one level), data/service/ (two levels: <s>/<k>) and
/// xenserver/attr/ (four levels: net-sriov-vf/<n>/ipv4/<i>).
const std::vector<WatchedBase>& watchedBases();

/// Nodes that are not watched but re-read whenever a watched one fires
/// (data/os_*, data/host_name_dns, data/domain, data/cant_suspend_reason)
/// plus listings of attr/PVAddons and drivers/ (xenopsd reads drivers/
/// without watching it).
const std::vector<ReadOp>& extraReads();

/// What to read for an event at `rel` (relative, as from parseDomainPath):
/// the watched base itself gives a listing of the base; a node below it
/// gives that node, cut to the base's depth (control/batcmd/state ->
/// control/batcmd), with the depth that remains below it (attr/vif/0 -> 2).
/// Paths outside every base, and attr/os/hotfixes (which xapi skips), give
/// nullopt.
std::optional<ReadOp> readForEvent(std::string_view rel);

/// True if reading `outer` also reads everything `inner` asks for: `inner`
/// lies at or below `outer` and its depth ends within outer's (a listing of
/// attr at depth 4 covers attr/PVAddons at depth 3; equal ops cover each
/// other).
bool covers(const ReadOp& outer, const ReadOp& inner);
/// `ops`, in order, without those another op of the list covers; of two
/// equal ops the first stays.
std::vector<ReadOp> withoutCovered(std::vector<ReadOp> ops);
/// The watched base `rel` equals or lies below (its `rel`), if any.
std::optional<std::string_view> watchedBaseOf(std::string_view rel);

/// True for the roots of the standing listings (watched bases, attr/PVAddons):
/// their own node is never kept, only what lies below.
bool isListingRoot(std::string_view rel);

/// True if a listing should skip `rel` (attr/os/hotfixes and below).
bool excludedFromListing(std::string_view rel);

/// The parent of a relative path ("control/ts" -> "control"; "x" -> "").
std::string_view parentOf(std::string_view rel);

}  // namespace xenrdp::daemon::detail
