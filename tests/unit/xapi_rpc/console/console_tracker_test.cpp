#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <vector>

#include <boost/asio/io_context.hpp>

#include <xapi_rpc/console/console_tracker.hpp>

using namespace xenrdp;
using namespace xenrdp::xapi_rpc::console;

namespace {

/// Runs the posted work (and what it posts) until none is ready.
void settle(boost::asio::io_context& io)
{
    io.restart();
    while (io.poll() != 0) {
    }
}

struct Guest {
    std::string vmRef;
    std::string gmRef;
};

Guest addGuest(metrics::ObjectStore& store, metrics::StringMap networks, metrics::StringMap other)
{
    metrics::GuestMetricsRecord gm;
    gm.uuid = metrics::randomUuid();
    gm.networks = std::move(networks);
    gm.other = std::move(other);
    Guest g;
    g.gmRef = store.add(metrics::Record{gm});
    metrics::VmRecord vm;
    vm.uuid = metrics::randomUuid();
    vm.nameLabel = "win";
    vm.powerState = metrics::PowerState::Running;
    vm.domid = 3;
    vm.guestMetrics = g.gmRef;
    g.vmRef = store.add(metrics::Record{vm});
    return g;
}

const metrics::VmRecord& vmOf(const metrics::ObjectStore& store, const std::string& ref)
{
    return *store.getAs<metrics::VmRecord>(ref);
}

}  // namespace

TEST_CASE("ConsoleTracker lists an rdp console once the guest reports RDP and an address", "[console][unit]")
{
    boost::asio::io_context io;
    metrics::ObjectStore store;
    auto g = addGuest(store, {{"0/ip", "192.0.2.10"}}, {{"data-ts", "0"}});
    ConsoleTracker tracker(io.get_executor(), store, 3389);
    tracker.start();
    settle(io);
    CHECK(store.count(metrics::ObjectClass::Console) == 0);

    auto gm = *store.getAs<metrics::GuestMetricsRecord>(g.gmRef);
    gm.other = gm.other.with("data-ts", "1");
    store.update(g.gmRef, metrics::Record{gm});
    settle(io);
    auto console = tracker.consoleOf(g.vmRef);
    REQUIRE(console);
    const auto* rec = store.getAs<metrics::ConsoleRecord>(*console);
    REQUIRE(rec != nullptr);
    CHECK(rec->protocol == "rdp");
    CHECK(rec->location == "rdp://192.0.2.10:3389");
    CHECK(rec->vm == g.vmRef);
    CHECK(vmOf(store, g.vmRef).consoles == std::vector<std::string>{*console});

    SECTION("the location follows the address")
    {
        gm.networks = gm.networks.with("0/ip", "192.0.2.11");
        store.update(g.gmRef, metrics::Record{gm});
        settle(io);
        CHECK(store.getAs<metrics::ConsoleRecord>(*console)->location == "rdp://192.0.2.11:3389");
    }
    SECTION("a new RDP port rewrites the location at once, keeping the console")
    {
        tracker.setRdpPort(3390);
        CHECK(store.getAs<metrics::ConsoleRecord>(*console)->location == "rdp://192.0.2.10:3390");
        CHECK(tracker.consoleOf(g.vmRef) == console);
        settle(io);
        CHECK(store.count(metrics::ObjectClass::Console) == 1);
    }
    SECTION("RDP off removes it")
    {
        gm.other = gm.other.with("data-ts", "0");
        store.update(g.gmRef, metrics::Record{gm});
        settle(io);
        CHECK(store.count(metrics::ObjectClass::Console) == 0);
        CHECK(vmOf(store, g.vmRef).consoles.empty());
    }
}

TEST_CASE("ConsoleTracker reports halts and reboots and drops the console", "[console][unit]")
{
    boost::asio::io_context io;
    metrics::ObjectStore store;
    auto g = addGuest(store, {{"0/ip", "192.0.2.10"}}, {{"data-ts", "1"}});
    ConsoleTracker tracker(io.get_executor(), store, 3389);
    std::vector<std::pair<std::string, std::int64_t>> stopped;
    tracker.onVmStopped([&stopped](const std::string& ref, std::int64_t domid) { stopped.emplace_back(ref, domid); });
    tracker.start();
    settle(io);
    REQUIRE(store.count(metrics::ObjectClass::Console) == 1);

    SECTION("reboot: a new domid")
    {
        auto vm = vmOf(store, g.vmRef);
        vm.domid = 9;
        store.update(g.vmRef, metrics::Record{vm});
        settle(io);
        REQUIRE(stopped.size() == 1);
        CHECK(stopped[0] == std::make_pair(g.vmRef, std::int64_t{9}));
        CHECK(store.count(metrics::ObjectClass::Console) == 1);
    }
    SECTION("halt")
    {
        auto vm = vmOf(store, g.vmRef);
        vm.powerState = metrics::PowerState::Halted;
        vm.domid = -1;
        store.update(g.vmRef, metrics::Record{vm});
        settle(io);
        REQUIRE(stopped.size() == 1);
        CHECK(stopped[0] == std::make_pair(g.vmRef, std::int64_t{-1}));
        CHECK(store.count(metrics::ObjectClass::Console) == 0);
        CHECK(vmOf(store, g.vmRef).consoles.empty());
    }
    SECTION("VM removed")
    {
        store.remove(g.vmRef);
        settle(io);
        REQUIRE(stopped.size() == 1);
        CHECK(store.count(metrics::ObjectClass::Console) == 0);
    }
}

TEST_CASE("ConsoleTracker follows the guest-metrics record a VM names now", "[console][unit]")
{
    boost::asio::io_context io;
    metrics::ObjectStore store;
    auto g = addGuest(store, {{"0/ip", "192.0.2.10"}}, {{"data-ts", "0"}});
    ConsoleTracker tracker(io.get_executor(), store, 3389);
    tracker.start();
    settle(io);
    REQUIRE(store.count(metrics::ObjectClass::Console) == 0);

    // The VM gets a new guest-metrics record (a restart with a new agent).
    metrics::GuestMetricsRecord fresh;
    fresh.uuid = metrics::randomUuid();
    fresh.networks = {{"0/ip", "192.0.2.20"}};
    fresh.other = {{"data-ts", "0"}};
    const std::string freshRef = store.add(metrics::Record{fresh});
    auto vm = vmOf(store, g.vmRef);
    vm.guestMetrics = freshRef;
    store.update(g.vmRef, metrics::Record{vm});
    settle(io);

    // The old record no longer speaks for the VM...
    auto old = *store.getAs<metrics::GuestMetricsRecord>(g.gmRef);
    old.other = old.other.with("data-ts", "1");
    store.update(g.gmRef, metrics::Record{old});
    settle(io);
    CHECK(store.count(metrics::ObjectClass::Console) == 0);

    // ... the new one does, also after other changes of the VM's record.
    vm = vmOf(store, g.vmRef);
    vm.nameLabel = "renamed";
    store.update(g.vmRef, metrics::Record{vm});
    settle(io);
    fresh.other = fresh.other.with("data-ts", "1");
    store.update(freshRef, metrics::Record{fresh});
    settle(io);
    auto console = tracker.consoleOf(g.vmRef);
    REQUIRE(console);
    CHECK(store.getAs<metrics::ConsoleRecord>(*console)->location == "rdp://192.0.2.20:3389");

    // Once the VM is gone, a change of its record finds nothing to follow.
    store.remove(g.vmRef);
    settle(io);
    fresh.other = fresh.other.with("data-ts", "0");
    store.update(freshRef, metrics::Record{fresh});
    settle(io);
    CHECK(store.count(metrics::ObjectClass::Console) == 0);
    CHECK_FALSE(tracker.consoleOf(g.vmRef));
}
