// The RDP control protocol of the guest agent, seen through the records.
#include <catch2/catch.hpp>

#include "engine_fixture.hpp"

using namespace xenrdp;
using namespace xenrdp::test;

namespace {

std::string addGuest(sandbox::XenstoredSandbox& sb, std::uint32_t domid)
{
    sandbox::DomainSpec spec;
    spec.domid = domid;
    spec.name = "guest-" + std::to_string(domid);
    return sb.addDomain(spec);
}

}  // namespace

TEST_CASE("A current agent's keys appear in other next to the toolstack's",
          "[engine][integration][agent]")
{
    sandbox::XenstoredSandbox sb;
    const std::string uuid = addGuest(sb, 5);
    Engine engine(sb);
    engine.start();
    AgentProcess agent(sb, 5, {"--agent", "current", "--rdp", "0"});
    REQUIRE(agent.waitReady());

    REQUIRE(engine.runUntil([&engine, uuid] {
        return engine.other(uuid, "data-ts") == std::optional<std::string>("0") &&
               engine.other(uuid, "feature-ts2").has_value();
    }));
    const metrics::StringMap expected = {
        {"platform-feature-multiprocessor-suspend", "1"},
        {"platform-feature-xs_reset_watches", "1"},
        {"has-vendor-device", "0"},
        {"feature-ts", "1"},
        {"feature-ts2", "1"},
        {"data-ts", "0"},
    };
    CHECK(engine.gm(uuid)->other == expected);
}

TEST_CASE("Writing control/ts=1 turns RDP on and the acknowledged ts key goes away",
          "[engine][integration][agent]")
{
    sandbox::XenstoredSandbox sb;
    const std::string uuid = addGuest(sb, 5);
    Engine engine(sb);
    engine.start();
    AgentProcess agent(sb, 5, {"--agent", "current", "--rdp", "0"});
    REQUIRE(agent.waitReady());
    REQUIRE(engine.runUntil(
        [&engine, uuid] { return engine.other(uuid, "data-ts") == std::optional<std::string>("0"); }));

    // What VM.call_plugin("guest-agent-operation", "request-rdp-on") writes.
    sb.write(dom(5, "control/ts"), "1");
    REQUIRE(engine.runUntil([&engine, uuid] {
        return engine.other(uuid, "data-ts") == std::optional<std::string>("1") &&
               !engine.other(uuid, "ts").has_value();
    }));
    CHECK(engine.other(uuid, "feature-ts2") == std::optional<std::string>("1"));
}

TEST_CASE("An old agent advertises only feature-ts and never reports data-ts",
          "[engine][integration][agent]")
{
    sandbox::XenstoredSandbox sb;
    const std::string uuid = addGuest(sb, 5);
    Engine engine(sb);
    engine.start();
    AgentProcess agent(sb, 5, {"--agent", "old"});
    REQUIRE(agent.waitReady());
    REQUIRE(engine.runUntil([&engine, uuid] { return engine.other(uuid, "feature-ts").has_value(); }));

    const std::uint64_t events = engine.watcher->stats().watchEvents;
    sb.write(dom(5, "control/ts"), "1");
    // The agent acknowledges (deletes control/ts) but writes no data/ts: two
    // events for us, the write and the removal.
    REQUIRE(engine.runUntil([&sb, &engine, events] {
        return !sb.read(dom(5, "control/ts")).has_value() &&
               engine.watcher->stats().watchEvents >= events + 2;
    }));
    REQUIRE(engine.settle());
    CHECK_FALSE(engine.other(uuid, "ts").has_value());
    CHECK_FALSE(engine.other(uuid, "feature-ts2").has_value());
    CHECK_FALSE(engine.other(uuid, "data-ts").has_value());
}

TEST_CASE("A guest without an agent has live guest metrics with only toolstack keys",
          "[engine][integration][agent]")
{
    sandbox::XenstoredSandbox sb;
    const std::string uuid = addGuest(sb, 5);
    Engine engine(sb);
    engine.start();
    REQUIRE(engine.settle());
    const metrics::GuestMetricsRecord* gm = engine.gm(uuid);
    REQUIRE(gm != nullptr);
    CHECK(gm->live);
    const metrics::StringMap expected = {
        {"platform-feature-multiprocessor-suspend", "1"},
        {"platform-feature-xs_reset_watches", "1"},
        {"has-vendor-device", "0"},
    };
    CHECK(gm->other == expected);
    CHECK(gm->networks.empty());
    CHECK_FALSE(gm->pvDriversDetected);
}

TEST_CASE("The agent's address and OS name reach networks and os_version",
          "[engine][integration][agent]")
{
    sandbox::XenstoredSandbox sb;
    const std::string uuid = addGuest(sb, 5);
    Engine engine(sb);
    engine.start();
    AgentProcess agent(sb, 5,
                       {"--ip", "10.0.0.5", "--os-name", "Microsoft Windows 10 Pro",
                        "--pv-version", "9.1.2"});
    REQUIRE(agent.waitReady());
    REQUIRE(engine.runUntil([&engine, uuid] {
        const auto* gm = engine.gm(uuid);
        return gm != nullptr && gm->networks.count("0/ip") != 0 &&
               gm->osVersion.count("name") != 0 && gm->pvDriversVersion.count("micro") != 0;
    }));
    const metrics::GuestMetricsRecord* gm = engine.gm(uuid);
    CHECK(gm->networks.at("0/ip") == "10.0.0.5");
    CHECK(gm->networks.at("0/ipv4/0") == "10.0.0.5");
    CHECK(gm->osVersion.at("name") == "Microsoft Windows 10 Pro");
    CHECK(gm->pvDriversVersion.at("major") == "9");
    CHECK(gm->pvDriversVersion.at("micro") == "2");
    CHECK(gm->pvDriversDetected);
}

TEST_CASE("A guest-metrics change moves last_updated and a repeated value does not",
          "[engine][integration]")
{
    sandbox::XenstoredSandbox sb;
    const std::string uuid = addGuest(sb, 5);
    Engine engine(sb);
    engine.start();
    sb.write(dom(5, "data/ts"), "1");
    REQUIRE(engine.runUntil(
        [&engine, uuid] { return engine.other(uuid, "data-ts") == std::optional<std::string>("1"); }));
    REQUIRE(engine.settle());
    const std::string gmRef = engine.vm(uuid)->guestMetrics;
    const std::uint64_t before = engine.store.generation();
    const std::uint64_t jobs = engine.watcher->stats().readJobs;

    sb.write(dom(5, "data/ts"), "1");  // same value: an event, no change
    REQUIRE(engine.runUntil(
        [&engine, jobs] { return engine.watcher->stats().readJobs > jobs; }));
    REQUIRE(engine.settle());
    const auto unchanged = engine.store.changesSince(before, metrics::ClassFilter::all());
    CHECK(unchanged.changes.empty());

    sb.write(dom(5, "data/ts"), "0");
    REQUIRE(engine.runUntil(
        [&engine, uuid] { return engine.other(uuid, "data-ts") == std::optional<std::string>("0"); }));
    const auto changed = engine.store.changesSince(before, metrics::ClassFilter::all());
    REQUIRE(changed.changes.size() == 1);
    CHECK(changed.changes.front().ref == gmRef);
}

TEST_CASE("Driver entries, services and SR-IOV addresses present at discovery are read",
          "[engine][integration][agent]")
{
    sandbox::XenstoredSandbox sb;
    const std::string uuid = addGuest(sb, 5);
    // What Windows PV drivers, a service-reporting agent and an SR-IOV VF's
    // agent write (reference §3.2-3.3), all before the daemon starts.
    sb.write(dom(5, "drivers/0"), "XenServer XENBUS 9.1.0.12 (build 12)");
    sb.write(dom(5, "drivers/1"), "XenServer XENVIF 9.1.1.5 (build 5)");
    sb.write(dom(5, "data/service/sshd/state"), "running");
    sb.write(dom(5, "data/service/sshd/enabled"), "1");
    sb.write(dom(5, "xenserver/attr/net-sriov-vf/1/ipv4/0"), "192.0.2.10");
    sb.write(dom(5, "xenserver/attr/net-sriov-vf/1/ipv6/0"), "2001:db8::10");
    Engine engine(sb);
    engine.start();

    const metrics::GuestMetricsRecord* gm = engine.gm(uuid);
    REQUIRE(gm != nullptr);
    CHECK(gm->pvDriversVersion == metrics::StringMap{{"xenbus", "XenServer 9.1.0.12 (build 12)"},
                                                     {"xenvif", "XenServer 9.1.1.5 (build 5)"},
                                                     {"micro", "-1"}});
    CHECK(gm->services == metrics::StringMap{{"sshd/state", "running"}, {"sshd/enabled", "1"}});
    CHECK(gm->networks == metrics::StringMap{{"1/ip", "192.0.2.10"},
                                             {"1/ipv4/0", "192.0.2.10"},
                                             {"1/ipv6/0", "2001:db8::10"}});
    CHECK(gm->pvDriversDetected);
}

TEST_CASE("data/service and xenserver/attr are watched and drivers/ is re-read with the extras",
          "[engine][integration][agent]")
{
    sandbox::XenstoredSandbox sb;
    const std::string uuid = addGuest(sb, 5);
    Engine engine(sb);
    engine.start();

    // A watched path: its own event brings it in.
    sb.write(dom(5, "data/service/sshd/state"), "running");
    REQUIRE(engine.runUntil([&engine, uuid] {
        const auto* gm = engine.gm(uuid);
        return gm != nullptr && gm->services.count("sshd/state") != 0;
    }));
    sb.write(dom(5, "xenserver/attr/net-sriov-vf/2/ipv4/0"), "198.51.100.7");
    REQUIRE(engine.runUntil([&engine, uuid] { return engine.gm(uuid)->networks.count("2/ip") != 0; }));
    CHECK(engine.gm(uuid)->networks ==
          metrics::StringMap{{"2/ip", "198.51.100.7"}, {"2/ipv4/0", "198.51.100.7"}});

    // drivers/ is not watched (as in xenopsd): the entry shows up once a
    // watched node fires and the unwatched extras are read again.
    sb.write(dom(5, "drivers/0"), "XenServer XENVBD 9.1.2.1 (build 1)");
    sb.write(dom(5, "data/ts"), "1");
    REQUIRE(engine.runUntil([&engine, uuid] {
        return engine.gm(uuid)->pvDriversVersion.count("xenvbd") != 0 &&
               engine.other(uuid, "data-ts") == std::optional<std::string>("1");
    }));
    CHECK(engine.gm(uuid)->pvDriversVersion ==
          metrics::StringMap{{"xenvbd", "XenServer 9.1.2.1 (build 1)"}, {"micro", "-1"}});

    // Removals follow too.
    sb.remove(dom(5, "data/service/sshd"));
    REQUIRE(engine.runUntil([&engine, uuid] { return engine.gm(uuid)->services.empty(); }));
    sb.remove(dom(5, "xenserver/attr/net-sriov-vf"));
    REQUIRE(engine.runUntil([&engine, uuid] { return engine.gm(uuid)->networks.empty(); }));
}
