#pragma once
/// ConsoleTracker: keeps one XenAPI `console` object (protocol "rdp",
/// location "rdp://<guest address>:<port>") for every running guest that
/// reports RDP on (VM_guest_metrics.other["data-ts"] non-zero) and an
/// address, and lists it in its VM's `consoles`; removes it when either
/// goes.  Store changes become event.from events (console add/del, VM mod).
///
/// It follows the ObjectStore's change feed (waitForChange, then
/// changesSince over VM and VM_guest_metrics), so it also tells a listener
/// when a VM halted, rebooted (new domid) or went: the console token store
/// drops that VM's tokens then.
///
/// Threading: single io thread; construct, start(), stop() and destroy on
/// the io executor.  Its work runs in handlers posted there; nothing blocks.
/// Ownership: references the store, which must outlive it; destroying it
/// (or stop()) cancels its wait, and posted work is then dropped.
/// Failure: no exception leaves a handler; an unexpected one is logged
/// (CONSOLE_TRACKER_FAILED) and the tracker resynchronises from scratch.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>

#include <boost/asio/any_io_executor.hpp>

#include <metrics/object_store.hpp>

namespace spdlog {
class logger;
}

namespace xenrdp::xapi_rpc::console {

class ConsoleTracker {
public:
    /// Called with a VM's ref and the domid it now runs as (-1 if halted or gone).
    using VmStopped = std::function<void(const std::string& vmRef, std::int64_t domid)>;

    ConsoleTracker(boost::asio::any_io_executor io, metrics::ObjectStore& store, std::uint16_t rdpPort,
                   std::shared_ptr<spdlog::logger> logger = nullptr);
    ~ConsoleTracker();
    ConsoleTracker(const ConsoleTracker&) = delete;
    ConsoleTracker& operator=(const ConsoleTracker&) = delete;

    /// Catches up with the store now (inline) and follows it from then on.
    void start();
    /// Stops following; the console objects stay.
    void stop() noexcept;
    /// One listener; a later call replaces it.  It must not throw.
    void onVmStopped(VmStopped listener) { onVmStopped_ = std::move(listener); }
    /// A new RDP port (SIGHUP): every console's location is rewritten at once
    /// (console mod events), new consoles get it too.
    void setRdpPort(std::uint16_t port);
    /// The console ref of a VM, if it has one.
    [[nodiscard]] std::optional<std::string> consoleOf(const std::string& vmRef) const;

private:
    /// What the tracker last saw of a VM: its record, shared with the
    /// store (no copy of its refs; gmToVm_ points into it).
    struct VmState {
        std::shared_ptr<const metrics::Record> snapshot;  ///< holds a VmRecord
        const metrics::VmRecord& vm() const { return std::get<metrics::VmRecord>(*snapshot); }
    };
    using VmEntry = std::pair<const std::string, VmState>;
    void sync();
    void arm();
    void evaluate(const std::string& vmRef);
    void forgetVm(const std::string& vmRef);
    void removeConsole(const std::string& vmRef);
    void setListed(const std::string& vmRef, const std::string& consoleRef, bool listed);
    /// gmToVm_'s entry for a VM: dropped before its snapshot is replaced
    /// or it goes, made again after.
    void unlinkGuestMetrics(const VmEntry& entry);
    void linkGuestMetrics(const VmEntry& entry);

    boost::asio::any_io_executor io_;
    metrics::ObjectStore& store_;
    std::uint16_t rdpPort_;
    std::shared_ptr<spdlog::logger> log_;
    VmStopped onVmStopped_;
    std::uint64_t since_ = 0;
    std::optional<metrics::ObjectStore::WaiterId> wait_;
    bool running_ = false;
    std::unordered_map<std::string, VmState> vms_;  ///< VM ref -> last seen
    /// Guest-metrics ref -> VM ref, both views into vms_: the key into the
    /// VM's snapshot, the value into vms_'s key.  Nodes do not move.
    std::unordered_map<std::string_view, std::string_view> gmToVm_;
    std::unordered_map<std::string, std::string> consoles_;  ///< VM ref -> console ref
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace xenrdp::xapi_rpc::console
