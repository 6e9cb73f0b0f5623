#pragma once
/// Where a proxy reaches a Xen guest's RDP listener, from what its guest
/// agent reported (VM_guest_metrics.networks and .other).  The agent is
/// untrusted: only strings that parse as IP addresses are ever returned.
/// Pure functions; any thread; never throw except std::bad_alloc.
#include <cstdint>
#include <optional>
#include <string>

#include <metrics/records.hpp>

namespace xenrdp::xapi_rpc::console {

/// The guest's address: IPv4 first ("<n>/ip", then "<n>/ipv4/<i>", lowest
/// device n and index i first), then IPv6 ("<n>/ipv6/<i>", same order;
/// link-local fe80::/10 skipped, it needs a zone).  Values that are not a
/// valid address (inet_pton) are skipped.  nullopt when none is usable.
[[nodiscard]] std::optional<std::string> guestAddress(const metrics::CompactMap& networks);

/// True when the guest reports RDP on: other["data-ts"] present and not "0".
[[nodiscard]] bool rdpReported(const metrics::CompactMap& other);

/// "rdp://<addr>:<port>", IPv6 in brackets.
[[nodiscard]] std::string rdpLocation(const std::string& address, std::uint16_t port);

}  // namespace xenrdp::xapi_rpc::console
