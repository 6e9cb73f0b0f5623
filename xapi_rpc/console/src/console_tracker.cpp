#include <xapi_rpc/console/console_tracker.hpp>

#include <algorithm>
#include <set>
#include <utility>

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include <xapi_rpc/console/guest_address.hpp>

namespace xenrdp::xapi_rpc::console {

using metrics::ObjectClass;

ConsoleTracker::ConsoleTracker(boost::asio::any_io_executor io, metrics::ObjectStore& store,
                               std::uint16_t rdpPort, std::shared_ptr<spdlog::logger> logger)
    : io_(std::move(io)), store_(store), rdpPort_(rdpPort), log_(std::move(logger))
{
}

ConsoleTracker::~ConsoleTracker()
{
    stop();
    *alive_ = false;
}

void ConsoleTracker::start()
{
    running_ = true;
    sync();
}

void ConsoleTracker::stop() noexcept
{
    running_ = false;
    if (wait_) store_.cancelWait(*wait_);
    wait_.reset();
}

void ConsoleTracker::setRdpPort(std::uint16_t port)
{
    if (port == rdpPort_) return;
    rdpPort_ = port;
    // evaluate() rewrites a location that differs (CONSOLE_MOVED).
    std::vector<std::string> withConsole;
    for (const auto& [vmRef, consoleRef] : consoles_) withConsole.push_back(vmRef);
    for (const auto& vmRef : withConsole) evaluate(vmRef);
}

std::optional<std::string> ConsoleTracker::consoleOf(const std::string& vmRef) const
{
    auto it = consoles_.find(vmRef);
    if (it == consoles_.end()) return std::nullopt;
    return it->second;
}

void ConsoleTracker::arm()
{
    if (!running_) return;
    std::weak_ptr<bool> alive = alive_;
    if (store_.generation() != since_) {
        // Our own updates (or others made while we worked) are not seen yet.
        boost::asio::post(io_, [self = this, alive] {
            if (!alive.expired()) self->sync();
        });
        return;
    }
    // The store calls this inside its own update: only post the real work.
    wait_ = store_.waitForChange([self = this, alive] {
        boost::asio::post(self->io_, [self, alive] {
            if (alive.expired()) return;
            self->wait_.reset();
            self->sync();
        });
    });
}

void ConsoleTracker::sync()
{
    if (!running_) return;
    if (wait_) {
        store_.cancelWait(*wait_);
        wait_.reset();
    }
    try {
        metrics::ClassFilter filter;
        filter.classes[static_cast<std::size_t>(ObjectClass::Vm)] = true;
        filter.classes[static_cast<std::size_t>(ObjectClass::GuestMetrics)] = true;
        auto result = store_.changesSince(since_, filter);
        if (result.lost) {
            // History we missed: start again from every live object, and
            // treat the VMs we knew that are not among them as gone.
            result = store_.changesSince(0, filter);
            std::set<std::string> live;
            for (const auto& c : result.changes)
                if (c.cls == ObjectClass::Vm) live.insert(c.ref);
            std::vector<std::string> gone;
            for (const auto& [ref, state] : vms_)
                if (live.count(ref) == 0) gone.push_back(ref);
            for (const auto& ref : gone) forgetVm(ref);
        }
        since_ = result.generation;
        std::set<std::string> dirty;
        for (const auto& change : result.changes) {
            if (change.cls == ObjectClass::GuestMetrics) {
                auto vm = gmToVm_.find(change.ref);
                if (vm != gmToVm_.end()) dirty.emplace(vm->second);
                continue;
            }
            if (change.op == metrics::ChangeOp::Del || !change.snapshot) {
                dirty.erase(change.ref);
                forgetVm(change.ref);
                continue;
            }
            const auto* vm = std::get_if<metrics::VmRecord>(change.snapshot.get());
            if (vm == nullptr) continue;
            const bool running = vm->powerState == metrics::PowerState::Running;
            auto known = vms_.find(change.ref);
            if (known != vms_.end()) {
                const metrics::VmRecord& prev = known->second.vm();
                const bool stopped = prev.powerState == metrics::PowerState::Running && !running;
                const bool rebooted = prev.domid >= 0 && vm->domid >= 0 && prev.domid != vm->domid;
                if ((stopped || rebooted) && onVmStopped_) onVmStopped_(change.ref, running ? vm->domid : -1);
                unlinkGuestMetrics(*known);
                known->second.snapshot = change.snapshot;
            } else {
                known = vms_.emplace(change.ref, VmState{change.snapshot}).first;
            }
            linkGuestMetrics(*known);
            dirty.insert(change.ref);
        }
        for (const auto& ref : dirty) evaluate(ref);
    } catch (const std::exception& e) {
        if (log_) log_->error("CONSOLE_TRACKER_FAILED error={} (resynchronising)", e.what());
        since_ = 0;
    }
    arm();
}

void ConsoleTracker::evaluate(const std::string& vmRef)
{
    const auto* vm = store_.getAs<metrics::VmRecord>(vmRef);
    if (vm == nullptr) {
        removeConsole(vmRef);
        return;
    }
    std::optional<std::string> location;
    if (vm->powerState == metrics::PowerState::Running && vm->domid >= 0 && !vm->isControlDomain) {
        if (const auto* gm = store_.getAs<metrics::GuestMetricsRecord>(vm->guestMetrics)) {
            if (rdpReported(gm->other)) {
                if (auto address = guestAddress(gm->networks)) location = rdpLocation(*address, rdpPort_);
            }
        }
    }
    if (!location) {
        removeConsole(vmRef);
        return;
    }
    auto existing = consoles_.find(vmRef);
    if (existing != consoles_.end()) {
        if (const auto* rec = store_.getAs<metrics::ConsoleRecord>(existing->second)) {
            if (rec->location != *location) {
                metrics::ConsoleRecord next = *rec;
                next.location = *location;
                store_.update(existing->second, metrics::Record{std::move(next)});
                if (log_) log_->info("CONSOLE_MOVED vm={} location={}", vmRef, *location);
            }
            setListed(vmRef, existing->second, true);
            return;
        }
        consoles_.erase(existing);  // removed behind our back: make a new one
    }
    metrics::ConsoleRecord console;
    console.uuid = metrics::randomUuid();
    console.protocol = "rdp";
    console.location = *location;
    console.vm = vmRef;
    const std::string consoleRef = store_.add(metrics::Record{std::move(console)});
    consoles_[vmRef] = consoleRef;
    setListed(vmRef, consoleRef, true);
    if (log_) log_->info("CONSOLE_ADDED vm={} console={} location={}", vmRef, consoleRef, *location);
}

void ConsoleTracker::forgetVm(const std::string& vmRef)
{
    auto it = vms_.find(vmRef);
    if (it != vms_.end()) {
        const bool wasRunning = it->second.vm().powerState == metrics::PowerState::Running;
        unlinkGuestMetrics(*it);
        vms_.erase(it);
        if (wasRunning && onVmStopped_) onVmStopped_(vmRef, -1);
    }
    removeConsole(vmRef);
}

void ConsoleTracker::unlinkGuestMetrics(const VmEntry& entry)
{
    auto it = gmToVm_.find(entry.second.vm().guestMetrics);
    if (it != gmToVm_.end() && it->second.data() == entry.first.data()) gmToVm_.erase(it);
}

void ConsoleTracker::linkGuestMetrics(const VmEntry& entry)
{
    const std::string& gmRef = entry.second.vm().guestMetrics;
    if (gmRef == metrics::kNullRef) return;
    // Another VM naming the same ref (bad input) loses it, as before; its
    // entry goes whole, so that no view of its record is left behind.
    gmToVm_.erase(gmRef);
    gmToVm_.emplace(gmRef, entry.first);
}

void ConsoleTracker::removeConsole(const std::string& vmRef)
{
    auto it = consoles_.find(vmRef);
    if (it == consoles_.end()) return;
    const std::string consoleRef = it->second;
    consoles_.erase(it);
    store_.remove(consoleRef);
    setListed(vmRef, consoleRef, false);
    if (log_) log_->info("CONSOLE_REMOVED vm={} console={}", vmRef, consoleRef);
}

void ConsoleTracker::setListed(const std::string& vmRef, const std::string& consoleRef, bool listed)
{
    const auto* vm = store_.getAs<metrics::VmRecord>(vmRef);
    if (vm == nullptr) return;
    const bool present = std::find(vm->consoles.begin(), vm->consoles.end(), consoleRef) != vm->consoles.end();
    if (present == listed) return;
    metrics::VmRecord next = *vm;
    if (listed)
        next.consoles.push_back(consoleRef);
    else
        std::erase(next.consoles, consoleRef);
    store_.update(vmRef, metrics::Record{std::move(next)});
}

}  // namespace xenrdp::xapi_rpc::console
