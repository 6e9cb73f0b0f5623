// The RDP control protocol of the guest agent, seen through the records.
#include <catch2/catch.hpp>

#include <sstream>

#include <xapi_rpc/dispatch/wire_records.hpp>

#include "engine_fixture.hpp"

using namespace xenrdp;
using namespace xenrdp::test;
using xapi_rpc::DateTime;
using xapi_rpc::Struct;
using xapi_rpc::Value;

namespace {

std::string addGuest(sandbox::XenstoredSandbox& sb, std::uint32_t domid)
{
    sandbox::DomainSpec spec;
    spec.domid = domid;
    spec.name = "guest-" + std::to_string(domid);
    return sb.addDomain(spec);
}

/// control/ keys xenopsd writes for every domain (the sandbox does too).
const metrics::StringMap kToolstackOther = {
    {"platform-feature-multiprocessor-suspend", "1"},
    {"platform-feature-xs_reset_watches", "1"},
    {"has-vendor-device", "0"},
};

metrics::StringMap withToolstack(metrics::StringMap agentKeys)
{
    agentKeys.insert(kToolstackOther.begin(), kToolstackOther.end());
    return agentKeys;
}

/// What xapi's rules give for a guest (reference §3.1-3.4); the fields a
/// guest cannot influence are fixed by expectedRecord.
struct ExpectedGm {
    metrics::StringMap osVersion;
    metrics::StringMap pvDriversVersion;
    metrics::StringMap networks;
    metrics::StringMap other = kToolstackOther;
    metrics::StringMap services;
    bool pvDriversDetected = false;
    const char* canUseHotplugVbd = "unspecified";
    const char* canUseHotplugVif = "unspecified";
};

Value mapOf(const metrics::StringMap& map)
{
    Struct s;
    for (const auto& [k, v] : map)
        s.emplace_back(k, Value(v));
    return Value(std::move(s));
}

/// The whole VM_guest_metrics record as get_record sends it, in xapi's
/// field order.  uuid and last_updated are the actual ones: checked apart.
Struct expectedRecord(const ExpectedGm& e, const Value& uuid, const Value& lastUpdated)
{
    return {
        {"uuid", uuid},
        {"os_version", mapOf(e.osVersion)},
        {"netbios_name", mapOf({})},
        {"PV_drivers_version", mapOf(e.pvDriversVersion)},
        {"PV_drivers_up_to_date", Value(e.pvDriversDetected)},
        {"memory", mapOf({})},
        {"disks", mapOf({})},
        {"networks", mapOf(e.networks)},
        {"other", mapOf(e.other)},
        {"last_updated", lastUpdated},
        {"other_config", mapOf({})},
        {"live", Value(true)},
        {"can_use_hotplug_vbd", Value(e.canUseHotplugVbd)},
        {"can_use_hotplug_vif", Value(e.canUseHotplugVif)},
        {"PV_drivers_detected", Value(e.pvDriversDetected)},
        {"services", mapOf(e.services)},
    };
}

/// The VM's guest-metrics record in its wire form (empty if none).
Struct wireRecord(const Engine& engine, const std::string& vmUuid)
{
    const metrics::VmRecord* vm = engine.vm(vmUuid);
    auto gm = vm ? engine.store.get(vm->guestMetrics) : nullptr;
    if (!gm)
        return {};
    const xapi_rpc::dispatch::FieldContext ctx{engine.store, vm->guestMetrics};
    const Value value = xapi_rpc::dispatch::recordValue(*gm, ctx);
    return *value.getIf<Struct>();
}

const Value* member(const Struct& s, const std::string& name)
{
    for (const auto& [k, v] : s)
        if (k == name)
            return &v;
    return nullptr;
}

/// Readable form of a Value, for failure messages.
std::string show(const Value& v)
{
    std::ostringstream out;
    if (const auto* str = v.getIf<std::string>())
        out << '"' << *str << '"';
    else if (const auto* b = v.getIf<bool>())
        out << (*b ? "true" : "false");
    else if (const auto* d = v.getIf<DateTime>())
        out << d->text;
    else if (const auto* st = v.getIf<Struct>()) {
        out << '{';
        for (const auto& [k, m] : *st)
            out << k << ": " << show(m) << "; ";
        out << '}';
    } else
        out << "<other>";
    return out.str();
}

/// The expected record with the actual uuid and last_updated.
Struct expectedFor(const Struct& actual, const ExpectedGm& e)
{
    const Value* uuid = member(actual, "uuid");
    const Value* lastUpdated = member(actual, "last_updated");
    return expectedRecord(e, uuid ? *uuid : Value(), lastUpdated ? *lastUpdated : Value());
}

/// Waits until the record is exactly `e`, then checks it key for key (so a
/// failure names the fields that differ), and that uuid and last_updated
/// are well-formed and belong to this record.
void requireRecord(Engine& engine, const std::string& vmUuid, const ExpectedGm& e)
{
    engine.runUntil([&engine, vmUuid, e] {
        const Struct actual = wireRecord(engine, vmUuid);
        return !actual.empty() && actual == expectedFor(actual, e);
    });
    const Struct actual = wireRecord(engine, vmUuid);
    REQUIRE_FALSE(actual.empty());
    const Struct expected = expectedFor(actual, e);
    REQUIRE(actual.size() == expected.size());
    for (std::size_t i = 0; i < expected.size(); ++i) {
        INFO("field " << expected[i].first << " actual " << show(actual[i].second)
                      << " expected " << show(expected[i].second));
        CHECK(actual[i].first == expected[i].first);
        CHECK(actual[i].second == expected[i].second);
    }
    const metrics::GuestMetricsRecord* gm = engine.gm(vmUuid);
    REQUIRE(gm != nullptr);
    CHECK(*member(actual, "uuid") == Value(gm->uuid));
    CHECK(engine.store.findByUuid(metrics::ObjectClass::GuestMetrics, gm->uuid) ==
          engine.vm(vmUuid)->guestMetrics);
    CHECK(*member(actual, "last_updated") ==
          Value(DateTime{xapi_rpc::dispatch::formatDateTime(gm->lastUpdated)}));
    CHECK(gm->lastUpdated > metrics::TimePoint{});
    CHECK(gm->lastUpdated <= std::chrono::system_clock::now());
}

/// Guest 5 in a fresh sandbox, a started engine and the simulated agent
/// run with `agentArgs` (ready).
struct AgentGuest {
    sandbox::XenstoredSandbox sb;
    std::string uuid = addGuest(sb, 5);
    Engine engine{sb};
    std::optional<AgentProcess> agent;

    explicit AgentGuest(const std::vector<std::string>& agentArgs)
    {
        engine.start();
        agent.emplace(sb, 5, agentArgs);
        if (!agent->waitReady())
            throw std::runtime_error("the guest agent did not get ready");
    }
};

}  // namespace

TEST_CASE("A current agent's guest metrics match xapi's rules key for key",
          "[engine][integration][agent]")
{
    AgentGuest g({"--agent", "current", "--rdp", "1", "--ip", "10.0.0.5", "--ipv6", "fd00::5",
                  "--os-name", "Microsoft Windows 10 Pro", "--pv-version", "9.1.2"});
    sandbox::XenstoredSandbox& sb = g.sb;
    Engine& engine = g.engine;
    const std::string uuid = g.uuid;
    // The sandbox never writes feature/hotplug; the PV drivers would.
    sb.write(dom(5, "feature/hotplug/vbd"), "1");
    sb.write(dom(5, "feature/hotplug/vif"), "0");

    ExpectedGm e;
    e.osVersion = {{"name", "Microsoft Windows 10 Pro"}};
    e.pvDriversVersion = {{"major", "9"}, {"minor", "1"}, {"micro", "2"}, {"build", "0"}};
    e.networks = {{"0/ip", "10.0.0.5"}, {"0/ipv4/0", "10.0.0.5"}, {"0/ipv6/0", "fd00::5"}};
    e.other = withToolstack({{"feature-ts", "1"}, {"feature-ts2", "1"}, {"data-ts", "1"}});
    e.pvDriversDetected = true;
    e.canUseHotplugVbd = "yes";
    e.canUseHotplugVif = "no";
    requireRecord(engine, uuid, e);

    // request-rdp-off: control/ts flashes, the agent removes it and reports.
    sb.write(dom(5, "control/ts"), "0");
    e.other["data-ts"] = "0";
    requireRecord(engine, uuid, e);
}

TEST_CASE("Writing control/ts=1 turns RDP on and the acknowledged ts key goes away",
          "[engine][integration][agent]")
{
    AgentGuest g({"--agent", "current", "--rdp", "0"});
    sandbox::XenstoredSandbox& sb = g.sb;
    Engine& engine = g.engine;
    const std::string uuid = g.uuid;
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

TEST_CASE("A legacy agent (seed protocol) reports through a deleted and rewritten data/ts",
          "[engine][integration][agent]")
{
    AgentGuest g({"--agent", "legacy", "--rdp", "0", "--ip", "10.0.0.7", "--ipv6", "fd00::7",
                  "--net-layout", "legacy"});
    sandbox::XenstoredSandbox& sb = g.sb;
    Engine& engine = g.engine;
    const std::string uuid = g.uuid;

    ExpectedGm e;
    // attr/eth0/ip and attr/eth0/ipv6/0/addr: xapi's legacy layout.
    e.networks = {{"0/ip", "10.0.0.7"}, {"0/ipv4/0", "10.0.0.7"}, {"0/ipv6/0", "fd00::7"}};
    e.other = withToolstack({{"feature-ts", "1"}, {"feature-ts2", "1"}, {"data-ts", "0"}});
    e.pvDriversDetected = true;
    requireRecord(engine, uuid, e);

    // The agent deletes control/ts, then data/ts, which its own watch
    // rewrites with the new state.
    sb.write(dom(5, "control/ts"), "1");
    e.other["data-ts"] = "1";
    requireRecord(engine, uuid, e);
    CHECK(sb.read(dom(5, "data/ts")) == std::optional<std::string>("1"));
    CHECK_FALSE(sb.read(dom(5, "control/ts")).has_value());
}

TEST_CASE("An old agent advertises only feature-ts and never reports data-ts",
          "[engine][integration][agent]")
{
    AgentGuest g({"--agent", "old", "--ip", "10.0.0.6", "--net-layout", "legacy"});
    sandbox::XenstoredSandbox& sb = g.sb;
    Engine& engine = g.engine;
    const std::string uuid = g.uuid;

    ExpectedGm e;
    e.networks = {{"0/ip", "10.0.0.6"}, {"0/ipv4/0", "10.0.0.6"}};
    e.other = withToolstack({{"feature-ts", "1"}});
    e.pvDriversDetected = true;  // it advertises a control/feature-* key
    requireRecord(engine, uuid, e);

    const std::uint64_t events = engine.watcher->stats().watchEvents;
    sb.write(dom(5, "control/ts"), "1");
    // The agent acknowledges (deletes control/ts) but writes no data/ts: two
    // events for us, the write and the removal.
    REQUIRE(engine.runUntil([&sb, &engine, events] {
        return !sb.read(dom(5, "control/ts")).has_value() &&
               engine.watcher->stats().watchEvents >= events + 2;
    }));
    REQUIRE(engine.settle());
    requireRecord(engine, uuid, e);
}

TEST_CASE("A guest without an agent has live guest metrics with only toolstack keys",
          "[engine][integration][agent]")
{
    sandbox::XenstoredSandbox sb;
    const std::string uuid = addGuest(sb, 5);
    Engine engine(sb);
    engine.start();
    REQUIRE(engine.settle());
    requireRecord(engine, uuid, ExpectedGm{});
}

TEST_CASE("A deleted data/ts is rewritten by the agent and the record follows",
          "[engine][integration][agent]")
{
    AgentGuest g({"--agent", "current", "--rdp", "1"});
    sandbox::XenstoredSandbox& sb = g.sb;
    Engine& engine = g.engine;
    const std::string uuid = g.uuid;
    REQUIRE(engine.runUntil(
        [&engine, uuid] { return engine.other(uuid, "data-ts") == std::optional<std::string>("1"); }));

    // A stale value written behind the agent's back: it only rewrites a
    // missing data/ts, so this one stays and the record shows it.
    sb.write(dom(5, "data/ts"), "0");
    REQUIRE(engine.runUntil(
        [&engine, uuid] { return engine.other(uuid, "data-ts") == std::optional<std::string>("0"); }));
    const std::uint64_t before = engine.store.generation();

    // Deleted: the agent's watch fires and it writes its real state again.
    sb.remove(dom(5, "data/ts"));
    REQUIRE(engine.runUntil(
        [&engine, uuid] { return engine.other(uuid, "data-ts") == std::optional<std::string>("1"); }));
    CHECK(sb.read(dom(5, "data/ts")) == std::optional<std::string>("1"));
    const auto changes = engine.store.changesSince(before, metrics::ClassFilter::all());
    REQUIRE_FALSE(changes.changes.empty());
    CHECK(changes.changes.back().ref == engine.vm(uuid)->guestMetrics);
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
