#include "host_identity.hpp"

#include <metrics/records.hpp>

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <cctype>
#include <fstream>

namespace xenrdp::daemon {
namespace {

/// Formats 32 hex digits as a version-4-shaped UUID, `salt` varying the
/// result so the host and the pool get different ones.
std::string uuidFromHex(std::string hex, unsigned salt)
{
    for (char& c : hex) {
        unsigned v = static_cast<unsigned>(std::isdigit(static_cast<unsigned char>(c)) ? c - '0'
                                                                                       : c - 'a' + 10);
        v = (v ^ salt) & 0xF;
        c = "0123456789abcdef"[v];
        salt = (salt * 7 + 3) & 0xF;
    }
    hex[12] = '4';
    hex[16] = "89ab"[(hex[16] - '0') & 0x3];
    return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
           hex.substr(16, 4) + "-" + hex.substr(20, 12);
}

}  // namespace

HostIdentity readHostIdentity()
{
    HostIdentity id;
    std::string machineId;
    std::ifstream in("/etc/machine-id");
    in >> machineId;
    bool valid = machineId.size() == 32;
    for (char c : machineId)
        valid = valid && std::isxdigit(static_cast<unsigned char>(c)) && !std::isupper(static_cast<unsigned char>(c));
    if (valid) {
        id.hostUuid = uuidFromHex(machineId, 0);
        id.poolUuid = uuidFromHex(machineId, 5);
    } else {
        id.hostUuid = metrics::randomUuid();
        id.poolUuid = metrics::randomUuid();
    }

    std::array<char, 256> name{};
    if (::gethostname(name.data(), name.size() - 1) == 0 && name[0] != '\0')
        id.hostname = name.data();
    else
        id.hostname = "localhost";

    id.address = "127.0.0.1";
    ifaddrs* list = nullptr;
    if (::getifaddrs(&list) == 0) {
        for (ifaddrs* a = list; a != nullptr; a = a->ifa_next) {
            if (a->ifa_addr == nullptr || a->ifa_addr->sa_family != AF_INET ||
                (a->ifa_flags & IFF_LOOPBACK) != 0 || (a->ifa_flags & IFF_UP) == 0)
                continue;
            std::array<char, INET_ADDRSTRLEN> text{};
            sockaddr_in sin{};
            std::memcpy(&sin, a->ifa_addr, sizeof sin);
            if (::inet_ntop(AF_INET, &sin.sin_addr, text.data(), text.size()) != nullptr) {
                id.address = text.data();
                break;
            }
        }
        ::freeifaddrs(list);
    }
    return id;
}

}  // namespace xenrdp::daemon
