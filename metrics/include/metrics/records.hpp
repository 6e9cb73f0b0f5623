#pragma once
/// Plain value types for the objects xenrdpd serves.  No XML or JSON here:
/// xapi_rpc turns these into wire records (field names as in xapi's datamodel).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include <metrics/compact_map.hpp>
#include <metrics/string_map.hpp>

namespace xenrdp::metrics {

using TimePoint = std::chrono::system_clock::time_point;

/// "OpaqueRef:NULL", the null reference.
inline constexpr const char* kNullRef = "OpaqueRef:NULL";

enum class PowerState { Halted, Paused, Running, Suspended };
enum class Tristate { Yes, No, Unspecified };

struct PoolRecord {
    std::string uuid;
    std::string nameLabel;
    std::string nameDescription;
    std::string master;  ///< host ref
    StringMap otherConfig;
    bool operator==(const PoolRecord&) const = default;
};

struct HostRecord {
    std::string uuid;
    std::string nameLabel;
    std::string nameDescription;
    std::string hostname;
    std::string address;
    std::int64_t apiVersionMajor = 2;
    std::int64_t apiVersionMinor = 20;
    StringMap softwareVersion;
    StringMap otherConfig;
    bool operator==(const HostRecord&) const = default;
};

struct VmRecord {
    std::string uuid;
    std::string nameLabel;
    std::string nameDescription;
    PowerState powerState = PowerState::Halted;
    std::int64_t domid = -1;  ///< -1 when not running
    bool isControlDomain = false;
    std::string hvmBootPolicy;          ///< non-empty for HVM guests
    std::string guestMetrics = kNullRef;  ///< VM_guest_metrics ref
    std::string residentOn = kNullRef;    ///< host ref while running
    std::vector<std::string> consoles;    ///< console refs
    StringMap currentOperations;          ///< task ref -> operation name
    StringMap otherConfig;
    bool operator==(const VmRecord&) const = default;
};

/// Its maps are CompactMaps: they are kept per guest for as long as it
/// runs and only ever replaced whole.
struct GuestMetricsRecord {
    std::string uuid;
    CompactMap osVersion;
    CompactMap pvDriversVersion;
    bool pvDriversUpToDate = false;
    bool pvDriversDetected = false;
    CompactMap networks;
    CompactMap other;
    CompactMap netbiosName;
    CompactMap services;
    TimePoint lastUpdated{};
    bool live = true;
    Tristate canUseHotplugVbd = Tristate::Unspecified;
    Tristate canUseHotplugVif = Tristate::Unspecified;
    bool operator==(const GuestMetricsRecord&) const = default;
};

struct ConsoleRecord {
    std::string uuid;
    std::string protocol;  ///< "rdp" | "rfb" | "vt100"
    std::string location;
    std::string vm;        ///< VM ref
    StringMap otherConfig;
    bool operator==(const ConsoleRecord&) const = default;
};

using Record = std::variant<PoolRecord, HostRecord, VmRecord, GuestMetricsRecord, ConsoleRecord>;

/// Classes in the order of the Record variant.
enum class ObjectClass : std::uint8_t { Pool, Host, Vm, GuestMetrics, Console };
inline constexpr std::size_t kObjectClassCount = 5;

/// The datamodel's class name: "pool", "host", "VM", "VM_guest_metrics", "console".
/// (Lowercase it for event.from's `class` and valid_ref_counts.)
const char* className(ObjectClass cls) noexcept;
/// The class of the alternative `record` holds.
ObjectClass classOf(const Record& record) noexcept;

const char* powerStateName(PowerState s) noexcept;  ///< "Halted", "Running", ...
const char* tristateName(Tristate t) noexcept;      ///< "yes", "no", "unspecified"

/// A fresh random (version 4) UUID, lowercase 8-4-4-4-12, from getrandom(2).
/// Any thread; no shared state.  Throws std::system_error if getrandom fails.
std::string randomUuid();
/// "OpaqueRef:" + a fresh random UUID.
std::string newRef();

}  // namespace xenrdp::metrics
