// Domain lifecycle: discovery, release, reboot, the control domain.
#include <catch2/catch.hpp>

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
    sandbox::XenstoredSandbox sb;
    const std::string uuid = sb.addDomain(guest(5, "reboot"));
    Engine engine(sb);
    engine.start();
    const std::string vmRef = *engine.vmRef(uuid);
    const std::string oldGm = engine.vm(uuid)->guestMetrics;

    sb.releaseDomain(5);
    REQUIRE(engine.runUntil([&engine, uuid] {
        return engine.vm(uuid)->powerState == metrics::PowerState::Halted;
    }));
    sandbox::DomainSpec again = guest(12, "reboot");
    again.uuid = uuid;
    sb.addDomain(again);
    REQUIRE(engine.runUntil([&engine, uuid] { return engine.vm(uuid)->domid == 12; }));

    CHECK(*engine.vmRef(uuid) == vmRef);
    CHECK(engine.vm(uuid)->powerState == metrics::PowerState::Running);
    CHECK(engine.vm(uuid)->guestMetrics != oldGm);
    CHECK(engine.gm(uuid) != nullptr);
    CHECK(engine.store.get(oldGm) == nullptr);
    CHECK(engine.store.count(metrics::ObjectClass::Vm) == 2);  // and dom0
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
    introduce(sb, 7);
    // A second domain introduced afterwards proves the scans went on.
    const std::string good = sb.addDomain(guest(8, "good"));
    REQUIRE(engine.runUntil([&engine, good] { return engine.gm(good) != nullptr; }));
    CHECK(engine.logCount("DOMAIN_IGNORED domid=7") == 1);
    CHECK(engine.store.count(metrics::ObjectClass::Vm) == 2);  // dom0 and the good one
    CHECK(engine.store.count(metrics::ObjectClass::GuestMetrics) == 1);
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
    introduce(sb, 4);
    const std::string lower = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
    REQUIRE(engine.runUntil([&engine, lower] { return engine.gm(lower) != nullptr; }));
    CHECK(engine.vm(lower)->domid == 4);
}
