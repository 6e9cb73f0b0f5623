#pragma once
// The identity xenrdpd gives the host and pool it serves: stable UUIDs
// derived from /etc/machine-id (so they survive restarts, as XenCenter and
// Xen Orchestra remember hosts by them), the host name and an address.
#include <string>

namespace xenrdp::daemon {

struct HostIdentity {
    std::string hostUuid;
    std::string poolUuid;
    std::string hostname;
    std::string address;  ///< first non-loopback IPv4, else 127.0.0.1
};

/// Reads /etc/machine-id (a random identity if it is missing or malformed),
/// gethostname() and getifaddrs().  Never throws.
HostIdentity readHostIdentity();

}  // namespace xenrdp::daemon
