// xenstored killed and restarted: the watcher rebuilds from xenstore and
// publishes only the differences.
#include <catch2/catch.hpp>

#include "engine_fixture.hpp"

using namespace xenrdp;
using namespace xenrdp::test;

namespace {

sandbox::DomainSpec guest(std::uint32_t domid, const std::string& uuid)
{
    sandbox::DomainSpec spec;
    spec.domid = domid;
    spec.name = "guest-" + std::to_string(domid);
    spec.uuid = uuid;
    return spec;
}

void agentState(sandbox::XenstoredSandbox& sb, std::uint32_t domid, const std::string& ts)
{
    sb.write(dom(domid, "control/feature-ts"), "1");
    sb.write(dom(domid, "control/feature-ts2"), "1");
    sb.write(dom(domid, "data/ts"), ts);
}

const std::string kUuid5 = "55555555-5555-4555-8555-555555555555";
const std::string kUuid6 = "66666666-6666-4666-8666-666666666666";
const std::string kUuid7 = "77777777-7777-4777-8777-777777777777";

}  // namespace

TEST_CASE("After a xenstored restart the store matches xenstore again",
          "[engine][integration][restart]")
{
    sandbox::XenstoredSandbox sb;
    sb.addDomain(guest(5, kUuid5));
    sb.addDomain(guest(6, kUuid6));
    sb.addDomain(guest(7, kUuid7));
    for (std::uint32_t domid : {5U, 6U, 7U})
        agentState(sb, domid, "0");
    Engine engine(sb);
    engine.start();
    REQUIRE(engine.runUntil([&engine] {
        return engine.other(kUuid5, "data-ts") == std::optional<std::string>("0") &&
               engine.other(kUuid6, "data-ts") == std::optional<std::string>("0") &&
               engine.other(kUuid7, "data-ts") == std::optional<std::string>("0");
    }));
    REQUIRE(engine.settle());
    const std::uint64_t before = engine.store.generation();
    const std::uint64_t reconnects = engine.conn->reconnectCount();

    sb.kill();
    sb.restart();
    // The toolstack lays out what survived: 5 with RDP now on, 6 as it was,
    // 7 is gone.
    sb.addDomain(guest(5, kUuid5));
    agentState(sb, 5, "1");
    sb.addDomain(guest(6, kUuid6));
    agentState(sb, 6, "0");

    REQUIRE(engine.runUntil([&engine, reconnects] {
        const auto* vm7 = engine.vm(kUuid7);
        return engine.conn->reconnectCount() > reconnects &&
               engine.other(kUuid5, "data-ts") == std::optional<std::string>("1") &&
               vm7 != nullptr && vm7->powerState == metrics::PowerState::Halted;
    }));
    REQUIRE(engine.settle());

    const metrics::StringMap running = {
        {"platform-feature-multiprocessor-suspend", "1"},
        {"platform-feature-xs_reset_watches", "1"},
        {"has-vendor-device", "0"},
        {"feature-ts", "1"},
        {"feature-ts2", "1"},
    };
    metrics::StringMap expected5 = running;
    expected5["data-ts"] = "1";
    metrics::StringMap expected6 = running;
    expected6["data-ts"] = "0";
    REQUIRE(engine.gm(kUuid5) != nullptr);
    REQUIRE(engine.gm(kUuid6) != nullptr);
    CHECK(engine.gm(kUuid5)->other == expected5);
    CHECK(engine.gm(kUuid6)->other == expected6);
    CHECK(engine.vm(kUuid5)->powerState == metrics::PowerState::Running);
    CHECK(engine.vm(kUuid6)->powerState == metrics::PowerState::Running);
    CHECK(engine.vm(kUuid7)->domid == -1);
    CHECK(engine.watcher->watchedDomains() == 2);

    // The changes are visible to an event.from reader that was at `before`.
    const auto changes = engine.store.changesSince(before, metrics::ClassFilter::all());
    auto changed = [&changes](const std::string& ref) {
        for (const auto& c : changes.changes)
            if (c.ref == ref)
                return true;
        return false;
    };
    CHECK(changed(*engine.vmRef(kUuid7)));
    CHECK(changed(engine.vm(kUuid5)->guestMetrics));
}

TEST_CASE("A xenstored restart with nothing changed publishes no guest-metrics change",
          "[engine][integration][restart]")
{
    sandbox::XenstoredSandbox sb;
    sb.addDomain(guest(5, kUuid5));
    agentState(sb, 5, "1");
    Engine engine(sb);
    engine.start();
    REQUIRE(engine.runUntil(
        [&engine] { return engine.other(kUuid5, "data-ts") == std::optional<std::string>("1"); }));
    REQUIRE(engine.settle());
    const std::string gmRef = engine.vm(kUuid5)->guestMetrics;
    const std::uint64_t reconnects = engine.conn->reconnectCount();

    sb.kill();
    sb.restart();
    sb.addDomain(guest(5, kUuid5));
    agentState(sb, 5, "1");
    const std::uint64_t before = engine.store.generation();
    REQUIRE(engine.runUntil(
        [&engine, reconnects] { return engine.conn->reconnectCount() > reconnects; }));
    // The resync has run once it was logged and the engine is idle again.
    REQUIRE(engine.runUntil([&engine] { return engine.logCount("DOMAIN_RESYNC") >= 1; }));
    REQUIRE(engine.settle());

    CHECK(engine.vm(kUuid5)->guestMetrics == gmRef);
    CHECK(engine.other(kUuid5, "data-ts") == std::optional<std::string>("1"));
    const auto changes = engine.store.changesSince(before, metrics::ClassFilter::all());
    bool gmChanged = false;
    for (const auto& c : changes.changes)
        gmChanged = gmChanged || c.ref == gmRef;
    CHECK_FALSE(gmChanged);
}
