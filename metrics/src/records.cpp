#include <metrics/records.hpp>

#include <sys/random.h>
#include <sys/types.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <system_error>

namespace xenrdp::metrics {

const char* className(ObjectClass cls) noexcept {
    switch (cls) {
    case ObjectClass::Pool: return "pool";
    case ObjectClass::Host: return "host";
    case ObjectClass::Vm: return "VM";
    case ObjectClass::GuestMetrics: return "VM_guest_metrics";
    case ObjectClass::Console: return "console";
    }
    return "unknown";
}

ObjectClass classOf(const Record& record) noexcept {
    // The enum lists the classes in the order of the variant's alternatives.
    return static_cast<ObjectClass>(record.index());
}

const char* powerStateName(PowerState s) noexcept {
    switch (s) {
    case PowerState::Halted: return "Halted";
    case PowerState::Paused: return "Paused";
    case PowerState::Running: return "Running";
    case PowerState::Suspended: return "Suspended";
    }
    return "Halted";
}

const char* tristateName(Tristate t) noexcept {
    switch (t) {
    case Tristate::Yes: return "yes";
    case Tristate::No: return "no";
    case Tristate::Unspecified: return "unspecified";
    }
    return "unspecified";
}

std::string randomUuid() {
    // getrandom(2) straight from the kernel's CSPRNG: no shared generator
    // state (safe from any thread), no fd, one cheap syscall.  A fresh
    // std::random_device per call cost ~65 us here (it may use RDSEED).
    std::array<std::uint8_t, 16> bytes{};
    std::size_t filled = 0;
    while (filled < bytes.size()) {
        const ssize_t n = ::getrandom(bytes.data() + filled, bytes.size() - filled, 0);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            throw std::system_error(errno, std::generic_category(), "getrandom");
        }
        filled += static_cast<std::size_t>(n);
    }
    // RFC 4122 §4.4: version 4 in the high nibble of byte 6, variant 10xx in byte 8.
    bytes[6] = static_cast<std::uint8_t>((bytes[6] & 0x0FU) | 0x40U);
    bytes[8] = static_cast<std::uint8_t>((bytes[8] & 0x3FU) | 0x80U);

    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    out.reserve(36);
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            out.push_back('-');
        }
        out.push_back(kHex[bytes[i] >> 4U]);
        out.push_back(kHex[bytes[i] & 0x0FU]);
    }
    return out;
}

std::string newRef() {
    return "OpaqueRef:" + randomUuid();
}

}  // namespace xenrdp::metrics
