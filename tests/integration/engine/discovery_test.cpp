// Domain lifecycle: discovery, release, reboot, the control domain.
#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

#include "domain_paths.hpp"
#include "engine_fixture.hpp"

using namespace xenrdp;
using namespace xenrdp::test;

namespace {

sandbox::DomainSpec guest(std::uint32_t domid, const std::string& name, bool hvm = true)
{
    sandbox::DomainSpec spec;
    spec.domid = domid;
    spec.name = name;
    spec.hvm = hvm;
    return spec;
}

/// Guest "reboot" running as domid 5 under a started engine, with the refs
/// a reboot must keep (the VM's) and replace (its guest metrics').
struct RunningVm {
    sandbox::XenstoredSandbox sb;
    std::string uuid = sb.addDomain(guest(5, "reboot"));
    Engine engine{sb};
    std::string vmRef;
    std::string oldGm;

    RunningVm()
    {
        engine.start();
        vmRef = *engine.vmRef(uuid);
        oldGm = engine.vm(uuid)->guestMetrics;
    }
    /// Lays out and introduces the rebooted VM's new domain, domid 12.
    void startNewDomain()
    {
        sandbox::DomainSpec again = guest(12, "reboot");
        again.uuid = uuid;
        sb.addDomain(again);
    }
};

}  // namespace

TEST_CASE("A guest running before start is published as a running VM with guest metrics",
          "[engine][integration]")
{
    sandbox::XenstoredSandbox sb;
    const std::string uuid = sb.addDomain(guest(5, "win10"));
    Engine engine(sb);
    engine.start();

    const metrics::VmRecord* vm = engine.vm(uuid);
    REQUIRE(vm != nullptr);
    CHECK(vm->nameLabel == "win10");
    CHECK(vm->powerState == metrics::PowerState::Running);
    CHECK(vm->domid == 5);
    CHECK_FALSE(vm->isControlDomain);
    CHECK(vm->residentOn == kHostRef);
    CHECK(vm->hvmBootPolicy == "BIOS order");
    const metrics::GuestMetricsRecord* gm = engine.gm(uuid);
    REQUIRE(gm != nullptr);
    CHECK(gm->live);
    CHECK(engine.watcher->watchedDomains() == 1);
    CHECK(engine.watcher->domidOf(*engine.vmRef(uuid)) == std::optional<std::int64_t>(5));
}

TEST_CASE("A PV guest has an empty HVM boot policy", "[engine][integration]")
{
    sandbox::XenstoredSandbox sb;
    const std::string uuid = sb.addDomain(guest(3, "pv", false));
    Engine engine(sb);
    engine.start();
    REQUIRE(engine.vm(uuid) != nullptr);
    CHECK(engine.vm(uuid)->hvmBootPolicy.empty());
}

TEST_CASE("A domain introduced after start is discovered", "[engine][integration]")
{
    sandbox::XenstoredSandbox sb;
    Engine engine(sb);
    engine.start();
    const std::string uuid = sb.addDomain(guest(9, "late"));
    REQUIRE(engine.runUntil([&engine, uuid] { return engine.gm(uuid) != nullptr; }));
    CHECK(engine.vm(uuid)->domid == 9);
    CHECK(engine.vm(uuid)->powerState == metrics::PowerState::Running);
    CHECK(engine.logCount("DOMAIN_DISCOVERED domid=9 uuid=" + uuid) == 1);
}

TEST_CASE("A released domain leaves a halted VM that keeps its guest metrics",
          "[engine][integration]")
{
    sandbox::XenstoredSandbox sb;
    const std::string uuid = sb.addDomain(guest(5, "gone"));
    Engine engine(sb);
    engine.start();
    const std::string gmRef = engine.vm(uuid)->guestMetrics;

    sb.releaseDomain(5);
    REQUIRE(engine.runUntil([&engine, uuid] {
        return engine.vm(uuid)->powerState == metrics::PowerState::Halted;
    }));
    const metrics::VmRecord* vm = engine.vm(uuid);
    CHECK(vm->domid == -1);
    CHECK(vm->residentOn == metrics::kNullRef);
    CHECK(vm->guestMetrics == gmRef);
    CHECK(engine.store.get(gmRef) != nullptr);
    CHECK(engine.watcher->watchedDomains() == 0);
}

TEST_CASE("A domain that xenstored releases itself (destroyed) becomes halted",
          "[engine][integration]")
{
    sandbox::XenstoredSandbox sb;
    const std::string uuid = sb.addDomain(guest(6, "crashed"));
    Engine engine(sb);
    engine.start();

    // Its /local/domain node stays: only xs_is_domain_introduced tells.
    sb.destroyDomain(6);
    REQUIRE(engine.runUntil([&engine, uuid] {
        return engine.vm(uuid)->powerState == metrics::PowerState::Halted;
    }));
    CHECK(engine.vm(uuid)->domid == -1);
    CHECK(sb.read(dom(6, "name")).has_value());
}

TEST_CASE("A rebooted VM keeps its VM ref and gets a new guest-metrics record",
          "[engine][integration]")
{
    RunningVm r;
    Engine& engine = r.engine;
    const std::string uuid = r.uuid;
    const std::string vmRef = r.vmRef;
    const std::string oldGm = r.oldGm;

    r.sb.releaseDomain(5);
    REQUIRE(engine.runUntil([&engine, uuid] {
        return engine.vm(uuid)->powerState == metrics::PowerState::Halted;
    }));
    r.startNewDomain();
    REQUIRE(engine.runUntil([&engine, uuid] { return engine.vm(uuid)->domid == 12; }));

    CHECK(*engine.vmRef(uuid) == vmRef);
    CHECK(engine.vm(uuid)->powerState == metrics::PowerState::Running);
    CHECK(engine.vm(uuid)->guestMetrics != oldGm);
    CHECK(engine.gm(uuid) != nullptr);
    CHECK(engine.store.get(oldGm) == nullptr);
    CHECK(engine.store.count(metrics::ObjectClass::Vm) == 2);  // and dom0
}

TEST_CASE("A reboot whose new domain appears before the old one's release keeps one running VM",
          "[engine][integration]")
{
    RunningVm r;
    sandbox::XenstoredSandbox& sb = r.sb;
    Engine& engine = r.engine;
    const std::string uuid = r.uuid;
    const std::string vmRef = r.vmRef;
    const std::string oldGm = r.oldGm;
    const std::uint64_t before = engine.store.generation();

    // The toolstack builds the new domain while the old one is still
    // introduced (xenopsd's reboot does so): same VM uuid, new domid.
    r.startNewDomain();
    REQUIRE(engine.runUntil([&engine, uuid] { return engine.vm(uuid)->domid == 12; }));
    REQUIRE(engine.settle());
    CHECK(sb.read(dom(5, "vm")).has_value());  // the old domain was still there

    auto checkRunningOnNewDomain = [&engine, uuid, vmRef, oldGm] {
        const metrics::VmRecord* vm = engine.vm(uuid);
        REQUIRE(vm != nullptr);
        CHECK(*engine.vmRef(uuid) == vmRef);
        CHECK(vm->powerState == metrics::PowerState::Running);
        CHECK(vm->domid == 12);
        CHECK(vm->residentOn == kHostRef);
        CHECK(vm->guestMetrics != oldGm);
        CHECK(engine.gm(uuid) != nullptr);
        CHECK(engine.store.get(oldGm) == nullptr);
        CHECK(engine.watcher->domidOf(vmRef) == std::optional<std::int64_t>(12));
    };
    checkRunningOnNewDomain();
    CHECK(engine.store.count(metrics::ObjectClass::Vm) == 2);  // and dom0
    CHECK(engine.store.count(metrics::ObjectClass::GuestMetrics) == 1);
    CHECK(engine.watcher->watchedDomains() == 1);

    // Another domain's introduction rescans for new domids: the old one,
    // still there, must not take the VM back.
    const std::string other = sb.addDomain(guest(20, "other"));
    REQUIRE(engine.runUntil([&engine, other] { return engine.gm(other) != nullptr; }));
    REQUIRE(engine.settle());
    CHECK(engine.watcher->watchedDomains() == 2);
    CHECK(engine.vm(uuid)->domid == 12);
    CHECK(engine.logCount("DOMAIN_DISCOVERED domid=5 ") == 1);  // at start only

    // Now the old domain goes: its @releaseDomain must not halt the VM.
    const std::uint64_t scans = engine.watcher->stats().scans;
    sb.releaseDomain(5, false);
    REQUIRE(engine.runUntil([&engine, scans] { return engine.watcher->stats().scans > scans; }));
    REQUIRE(engine.settle());
    checkRunningOnNewDomain();
    CHECK(engine.store.count(metrics::ObjectClass::Vm) == 3);  // dom0, the VM, the other
    CHECK(engine.store.count(metrics::ObjectClass::GuestMetrics) == 2);
    CHECK(engine.watcher->watchedDomains() == 2);
    CHECK(engine.logCount("DOMAIN_DISCOVERED domid=12 uuid=" + uuid) == 1);

    // What an event.from reader sees: the VM modified, the old record
    // deleted, the new one added.
    const auto changes = engine.store.changesSince(before, metrics::ClassFilter::all());
    auto kindOf = [&changes](const std::string& ref) -> std::optional<metrics::ChangeOp> {
        for (const auto& c : changes.changes)
            if (c.ref == ref)
                return c.op;
        return std::nullopt;
    };
    CHECK(kindOf(vmRef) == std::optional<metrics::ChangeOp>(metrics::ChangeOp::Mod));
    CHECK(kindOf(oldGm) == std::optional<metrics::ChangeOp>(metrics::ChangeOp::Del));
    CHECK(kindOf(engine.vm(uuid)->guestMetrics) ==
          std::optional<metrics::ChangeOp>(metrics::ChangeOp::Add));
}

TEST_CASE("Domain 0 is the control domain and has no guest metrics", "[engine][integration]")
{
    sandbox::XenstoredSandbox sb;
    Engine engine(sb);
    engine.start();
    const metrics::VmRecord* dom0 = engine.vm("00000000-0000-0000-0000-000000000000");
    REQUIRE(dom0 != nullptr);
    CHECK(dom0->isControlDomain);
    CHECK(dom0->nameLabel == "Domain-0");
    CHECK(dom0->domid == 0);
    CHECK(dom0->powerState == metrics::PowerState::Running);
    CHECK(dom0->guestMetrics == metrics::kNullRef);
    CHECK(engine.watcher->watchedDomains() == 0);
}

TEST_CASE("A domain whose uuid is not valid is ignored with one warning",
          "[engine][integration]")
{
    sandbox::XenstoredSandbox sb;
    Engine engine(sb);
    engine.start();
    sb.addDomain(guest(7, "bad"), false);
    sb.write(dom(7, "vm"), std::string("/vm/\xff\x01../../etc", 15));
    sb.introduceDomain(7);
    // A second domain introduced afterwards proves the scans went on.  The
    // two are discovered side by side on the reader handles, in no set
    // order: wait for both outcomes.
    const std::string good = sb.addDomain(guest(8, "good"));
    REQUIRE(engine.runUntil([&engine, good] {
        return engine.gm(good) != nullptr && engine.logCount("DOMAIN_IGNORED domid=7") != 0;
    }));
    // A later scan (another domain comes) lists domain 7 again: no second warning.
    const std::string later = sb.addDomain(guest(9, "later"));
    REQUIRE(engine.runUntil([&engine, later] { return engine.gm(later) != nullptr; }));
    REQUIRE(engine.settle());
    CHECK(engine.logCount("DOMAIN_IGNORED domid=7") == 1);
    CHECK(engine.store.count(metrics::ObjectClass::Vm) == 3);  // dom0 and the two good ones
    CHECK(engine.store.count(metrics::ObjectClass::GuestMetrics) == 2);
}

TEST_CASE("A vm path that is not the uuid itself is resolved through /vm/<id>/uuid",
          "[engine][integration]")
{
    sandbox::XenstoredSandbox sb;
    Engine engine(sb);
    engine.start();
    sandbox::DomainSpec spec = guest(4, "indirect");
    spec.uuid = "vm-4-instance";
    sb.addDomain(spec, false);
    const std::string uuid = "0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0";
    sb.write("/vm/vm-4-instance/uuid", uuid);
    sb.introduceDomain(4);
    const std::string lower = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
    REQUIRE(engine.runUntil([&engine, lower] { return engine.gm(lower) != nullptr; }));
    CHECK(engine.vm(lower)->domid == 4);
}

TEST_CASE("Discovering quiet guests takes one read each and no follow-up read job",
          "[engine][integration]")
{
    // Each guest's watches are armed before its tree is read, so their
    // firings at registration (which Engine::start waits for) bring nothing
    // the read has not seen: no re-listing job follows.
    sandbox::XenstoredSandbox sb;
    std::vector<sandbox::DomainSpec> specs;
    for (std::uint32_t domid = 1; domid <= 20; ++domid)
        specs.push_back(guest(domid, "quiet-" + std::to_string(domid)));
    sb.addDomains(specs);
    Engine engine(sb);
    engine.start();

    const daemon::DomainWatcherStats stats = engine.watcher->stats();
    CHECK(engine.watcher->watchedDomains() == 20);
    CHECK(stats.watchEvents >= 20 * daemon::detail::watchedBases().size());
    CHECK(stats.readJobs == 0);
}

TEST_CASE("Writes made while a guest is being discovered all reach its record",
          "[engine][integration]")
{
    // The guest's data/ts is rewritten as fast as xenstored takes it from
    // before the engine starts until its initial scan is done.  Its attr/
    // tree, read after data/ts, is large, so many writes fall between the
    // read of data/ts and the guest's attach: their events arrive before
    // the guest is known and must not be dropped.  Whichever side of the
    // read the last write falls on, the record must end with its value.
    // Several engines in a row, since where the last write lands varies.
    sandbox::XenstoredSandbox sb;
    const std::string uuid = sb.addDomain(guest(5, "busy"));
    for (int i = 0; i < 100; ++i)
        sb.write(dom(5, "attr/bulk/" + std::to_string(i)), std::to_string(i));

    for (int round = 0; round < 8; ++round) {
        CAPTURE(round);
        Engine engine(sb);
        std::atomic<bool> stop{false};
        std::atomic<std::uint64_t> writes{0};
        std::string last;  // the writer's until joined
        std::thread writer([dir = sb.dir(), round, &stop, &writes, &last] {
            auto own = sandbox::XenstoredSandbox::attach(dir);
            for (std::uint64_t n = 0; !stop.load(); ++n) {
                last = "r" + std::to_string(round) + "-" + std::to_string(n);
                own.write(dom(5, "data/ts"), last);
                writes.fetch_add(1);
            }
        });
        struct JoinOnExit {
            std::atomic<bool>& stop;
            std::thread& thread;
            ~JoinOnExit()
            {
                stop = true;
                if (thread.joinable())
                    thread.join();
            }
        } joinOnExit{stop, writer};
        const auto deadline = std::chrono::steady_clock::now() + kDeadline;
        while (writes.load() == 0 && std::chrono::steady_clock::now() < deadline)
            std::this_thread::yield();
        bool scanned = false;
        engine.conn->start();
        engine.watcher->start([&scanned, &stop] {
            stop = true;  // the writer's last write ends as the initial scan does
            scanned = true;
        });
        REQUIRE(engine.runUntil([&scanned] { return scanned; }));
        writer.join();
        REQUIRE(writes.load() > 0);
        CHECK(engine.runUntil([&engine, &uuid, &last] {
            return engine.other(uuid, "data-ts") == std::optional<std::string>(last);
        }));
        CHECK(engine.other(uuid, "data-ts") == std::optional<std::string>(last));
    }
}
