#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "dispatch_test_support.hpp"

using namespace xenrdp::xapi_rpc;
using namespace xenrdp::xapi_rpc::dispatch;
using namespace xenrdp::xapi_rpc::dispatch::test;
using Errors = std::vector<std::string>;

namespace {

CallContext unixPeer(uid_t uid)
{
    CallContext ctx;
    ctx.transport = CallContext::Transport::Unix;
    ctx.peerUid = uid;
    return ctx;
}

}  // namespace

TEST_CASE("An unknown method is MESSAGE_METHOD_UNKNOWN with the method name", "[dispatch]")
{
    Fixture f;
    auto o = f.call("VM.frobnicate", {"OpaqueRef:x"});
    CHECK_FALSE(o.success);
    CHECK(o.error == Errors{"MESSAGE_METHOD_UNKNOWN", "VM.frobnicate"});
}

TEST_CASE("A wrong parameter count is MESSAGE_PARAMETER_COUNT_MISMATCH [method, expected, received]", "[dispatch]")
{
    Fixture f;
    const std::string s = f.login();
    CHECK(f.call("VM.get_record", {s}).error == Errors{"MESSAGE_PARAMETER_COUNT_MISMATCH", "VM.get_record", "2", "1"});
    CHECK(f.call("session.login_with_password", {"a"}).error ==
          Errors{"MESSAGE_PARAMETER_COUNT_MISMATCH", "session.login_with_password", "4", "1"});
    CHECK(f.call("session.login_with_password", {"a", "b", "c", "d", "e"}).error ==
          Errors{"MESSAGE_PARAMETER_COUNT_MISMATCH", "session.login_with_password", "4", "5"});
}

TEST_CASE("An unknown session is SESSION_INVALID with the ref as sent", "[dispatch]")
{
    Fixture f;
    CHECK(f.call("VM.get_all", {"OpaqueRef:bogus"}).error == Errors{"SESSION_INVALID", "OpaqueRef:bogus"});
}

TEST_CASE("A session parameter that is not a string is FIELD_TYPE_ERROR", "[dispatch]")
{
    Fixture f;
    CHECK(f.call("VM.get_all", {std::int64_t{5}}).error == Errors{"FIELD_TYPE_ERROR", "session_id"});
}

TEST_CASE("A ref parameter that is not a string is FIELD_TYPE_ERROR with the parameter name", "[dispatch]")
{
    Fixture f;
    const std::string s = f.login();
    CHECK(f.call("VM.get_record", {s, Array{}}).error == Errors{"FIELD_TYPE_ERROR", "self"});
    CHECK(f.call("VM.get_by_uuid", {s, true}).error == Errors{"FIELD_TYPE_ERROR", "uuid"});
}

TEST_CASE("A bad ref is HANDLE_INVALID with the datamodel class name", "[dispatch]")
{
    Fixture f;
    const std::string s = f.login();
    CHECK(f.call("VM.get_record", {s, "OpaqueRef:nope"}).error == Errors{"HANDLE_INVALID", "VM", "OpaqueRef:nope"});
    // A ref of another class is just as invalid.
    CHECK(f.call("VM_guest_metrics.get_record", {s, f.winRef}).error ==
          Errors{"HANDLE_INVALID", "VM_guest_metrics", f.winRef});
    CHECK(f.call("host.get_servertime", {s, f.poolRef}).error == Errors{"HANDLE_INVALID", "host", f.poolRef});
}

TEST_CASE("An unknown uuid in get_by_uuid is UUID_INVALID [class, uuid]", "[dispatch]")
{
    Fixture f;
    const std::string s = f.login();
    CHECK(f.call("VM.get_by_uuid", {s, "00000000-0000-0000-0000-000000000000"}).error ==
          Errors{"UUID_INVALID", "VM", "00000000-0000-0000-0000-000000000000"});
}

TEST_CASE("get_by_uuid finds the VM ref", "[dispatch]")
{
    Fixture f;
    const std::string s = f.login();
    const std::string uuid = str(f.call("VM.get_uuid", {s, f.winRef}).result);
    CHECK(str(f.call("VM.get_by_uuid", {s, uuid}).result) == f.winRef);
}

TEST_CASE("Login accepts 2, 3 and 4 parameters", "[dispatch][login]")
{
    Fixture f;
    auto two = f.call("session.login_with_password", {"admin", "secret"});
    auto three = f.call("session.login_with_password", {"admin", "secret", "2.20"});
    auto four = f.call("session.login_with_password", {"admin", "secret", "2.20", "XenCenter 2023"});
    REQUIRE(two.success);
    REQUIRE(three.success);
    REQUIRE(four.success);
    CHECK(str(two.result).rfind("OpaqueRef:", 0) == 0);
    CHECK(f.dispatcher->sessions().size() == 3);
}

TEST_CASE("Root on the Unix socket logs in without a valid password", "[dispatch][login]")
{
    Fixture f;
    auto o = f.call("session.login_with_password", {"root", "wrong"}, unixPeer(0));
    REQUIRE(o.success);
    CHECK(f.authenticator.attempts == 0);
    const std::string s = str(o.result);
    auto su = f.call("session.get_is_local_superuser", {s, s});
    CHECK(su.result == Value(true));
}

TEST_CASE("session.get_subject and get_auth_user_sid are xapi's values for a local-password login",
          "[dispatch][login]")
{
    Fixture f;
    const std::string root = str(f.call("session.login_with_password", {"root", ""}, unixPeer(0)).result);
    const std::string op = f.login("operator", "oppw");
    for (const auto& s : {root, op}) {
        INFO(s);
        CHECK(f.call("session.get_subject", {s, s}).result == Value("OpaqueRef:NULL"));
        CHECK(f.call("session.get_auth_user_sid", {s, s}).result == Value(""));
    }
    // A read-only session may ask about another session; an unknown one is HANDLE_INVALID.
    const std::string reader = f.login("reader", "readpw");
    CHECK(f.call("session.get_subject", {reader, op}).result == Value("OpaqueRef:NULL"));
    CHECK(f.call("session.get_auth_user_sid", {reader, "OpaqueRef:nope"}).error ==
          Errors{"HANDLE_INVALID", "session", "OpaqueRef:nope"});
}

TEST_CASE("A non-root Unix peer is authenticated by password", "[dispatch][login]")
{
    Fixture f;
    auto o = f.call("session.login_with_password", {"root", "wrong"}, unixPeer(1000));
    CHECK(o.error == Errors{"SESSION_AUTHENTICATION_FAILED", "root", "Authentication failure"});
    CHECK(f.authenticator.attempts == 1);
}

TEST_CASE("A TCP peer claiming uid 0 is still authenticated by password", "[dispatch][login]")
{
    Fixture f;
    CallContext ctx;  // the HTTP handler never sets a uid for TCP, but the dispatcher must not trust one either
    ctx.transport = CallContext::Transport::Tcp;
    ctx.peerUid = 0;
    auto o = f.call("session.login_with_password", {"root", "wrong"}, ctx);
    CHECK(o.error == Errors{"SESSION_AUTHENTICATION_FAILED", "root", "Authentication failure"});
    CHECK(f.authenticator.attempts == 1);
}

TEST_CASE("A failed login answers SESSION_AUTHENTICATION_FAILED only after the throttle delay", "[dispatch][login]")
{
    Fixture f(Fixture::testConfig(), std::chrono::milliseconds(300));
    const auto start = std::chrono::steady_clock::now();
    auto failed = f.start("session.login_with_password", {"admin", "bad"});
    // Meanwhile other calls proceed: a good login completes before the failure.
    auto good = f.start("session.login_with_password", {"admin", "secret"});
    REQUIRE(runUntil(f.io, [&good] { return good->has_value(); }));
    CHECK_FALSE(failed->has_value());
    REQUIRE(runUntil(f.io, [&failed] { return failed->has_value(); }));
    CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(300));
    CHECK((*failed)->error == Errors{"SESSION_AUTHENTICATION_FAILED", "admin", "Authentication failure"});
}

TEST_CASE("Logout invalidates the session for every later call", "[dispatch][login]")
{
    Fixture f;
    const std::string s = f.login();
    CHECK(f.call("session.logout", {s}).result == Value(""));
    CHECK(f.call("VM.get_all", {s}).error == Errors{"SESSION_INVALID", s});
}

TEST_CASE("A read-only session is denied VM.call_plugin with xapi's RBAC message", "[dispatch][rbac]")
{
    Fixture f;
    const std::string s = f.login("reader", "readpw");
    auto o = f.call("VM.call_plugin", {s, f.winRef, "guest-agent-operation", "request-rdp-on", Struct{}});
    CHECK(o.error == Errors{"RBAC_PERMISSION_DENIED", "vm.call_plugin",
                            "No permission in user session. (Roles with this permission: pool-admin, "
                            "pool-operator, vm-power-admin, vm-admin, vm-operator)"});
    CHECK(f.guest.writes.empty());
}

TEST_CASE("A read-only session may read records", "[dispatch][rbac]")
{
    Fixture f;
    const std::string s = f.login("reader", "readpw");
    CHECK(f.call("VM.get_all_records", {s}).success);
}

TEST_CASE("get_rbac_permissions lists call_plugin for an operator but not a reader", "[dispatch][rbac]")
{
    Fixture f;
    const std::string op = f.login("operator", "oppw");
    const std::string rd = f.login("reader", "readpw");
    auto has = [&f](const std::string& s, const std::string& perm) {
        auto o = f.call("session.get_rbac_permissions", {s, s});
        const auto* a = o.result.getIf<Array>();
        return a != nullptr && std::find(a->begin(), a->end(), Value(perm)) != a->end();
    };
    CHECK(has(op, "vm.call_plugin"));
    CHECK_FALSE(has(rd, "vm.call_plugin"));
    CHECK(has(rd, "vm.get_record"));
}

TEST_CASE("system.listMethods needs no session and lists every class's get_all_records", "[dispatch]")
{
    Fixture f;
    auto o = f.call("system.listMethods", {});
    REQUIRE(o.success);
    const auto* a = o.result.getIf<Array>();
    REQUIRE(a != nullptr);
    for (const char* m : {"pool.get_all_records", "host.get_all_records", "VM.get_all_records",
                          "VM_guest_metrics.get_all_records", "VM.call_plugin", "event.from",
                          "event.inject", "session.login_with_password", "host.get_servertime",
                          "VM.get_power_state", "VM_guest_metrics.get_other", "pool.get_master",
                          "host.get_API_version_major", "role.get_all_records", "task.get_all_records"}) {
        INFO(m);
        CHECK(std::find(a->begin(), a->end(), Value(m)) != a->end());
    }
    // Stable: the same list every time, sorted.
    CHECK(f.call("system.listMethods", {}).result == o.result);
    CHECK(std::is_sorted(a->begin(), a->end(), [](const Value& x, const Value& y) {
        return *x.getIf<std::string>() < *y.getIf<std::string>();
    }));
}

TEST_CASE("Every row of the merged client surface (xenapi-clients.md §5) is served with its params", "[dispatch]")
{
    Fixture f;
    const std::string s = f.login();
    const std::string other = f.login();  // the one session.logout ends
    const std::string vmUuid = f.store.getAs<xenrdp::metrics::VmRecord>(f.winRef)->uuid;
    const auto names = f.dispatcher->methodNames();

    struct Row {
        std::string method;
        Array params;             ///< as §5's params column, session first
        std::string expectError;  ///< "" for success
        std::function<void()> before = nullptr;
    };
    // §5's table, row by row and in its order; a row naming several methods
    // is split, and "<T>.get_all_records" is listed for every class served.
    const std::vector<Row> surface = {
        {"session.login_with_password", {"admin", "secret", "2.20", "XenCenter"}, ""},
        {"session.login_with_password", {"admin", "secret"}, ""},
        {"session.logout", {other}, ""},
        {"system.listMethods", {}, ""},
        {"pool.get_all_records", {s}, ""},
        {"pool.get_all", {s}, ""},
        {"pool.get_master", {s, f.poolRef}, ""},
        {"host.get_API_version_major", {s, f.hostRef}, ""},
        {"host.get_API_version_minor", {s, f.hostRef}, ""},
        {"host.get_record", {s, f.hostRef}, ""},
        {"session.get_this_host", {s, s}, ""},
        {"host.get_uuid", {s, f.hostRef}, ""},
        {"host.get_software_version", {s, f.hostRef}, ""},
        // xenrdpd has no host plugins: xapi's answer for a missing one.
        {"host.call_plugin", {s, f.hostRef, "dom0_plugin_version.py", "get_version",
                              Struct{{"params", Value("x")}, {"host_uuid", Value("u")}}},
         "XENAPI_MISSING_PLUGIN"},
        {"session.get_is_local_superuser", {s, s}, ""},
        // §4.2: XenCenter's next two calls when the answer above is false.
        {"session.get_subject", {s, s}, ""},
        {"session.get_auth_user_sid", {s, s}, ""},
        {"session.get_rbac_permissions", {s, s}, ""},
        {"role.get_all_records", {s}, ""},
        {"host.get_servertime", {s, f.hostRef}, ""},
        {"VM.get_all_records", {s}, ""},
        {"VM_guest_metrics.get_all_records", {s}, ""},
        {"host.get_all_records", {s}, ""},
        {"pool.get_all_records", {s}, ""},
        {"VM.get_by_uuid", {s, vmUuid}, ""},
        {"VM.get_record", {s, f.winRef}, ""},
        {"VM.get_guest_metrics", {s, f.winRef}, ""},
        {"VM_guest_metrics.get_record", {s, f.gmRef}, ""},
        {"VM_guest_metrics.get_other", {s, f.gmRef}, ""},
        {"event.inject", {s, "pool", f.poolRef}, ""},
        {"event.from", {s, Array{"*"}, "", 30.0}, ""},
        {"event.register", {s, Array{"vm"}}, ""},
        {"event.next", {s}, "", [&f] { f.store.touch(f.winRef); }},
        {"event.unregister", {s, Array{"vm"}}, ""},
        {"task.get_all_records", {s}, ""},
        {"VM.call_plugin", {s, f.winRef, "guest-agent-operation", "request-rdp-on", Struct{}}, ""},
        {"VM.call_plugin", {s, f.winRef, "guest-agent-operation", "request-rdp-off", Struct{}}, ""},
    };
    for (const auto& row : surface) {
        INFO(row.method);
        CHECK(std::binary_search(names.begin(), names.end(), row.method));
        if (row.before) row.before();
        auto o = f.call(row.method, row.params);
        if (row.expectError.empty()) {
            CHECK(o.success);
            CHECK(o.error.empty());
        } else {
            REQUIRE_FALSE(o.error.empty());
            CHECK(o.error[0] == row.expectError);
        }
    }

    // Beyond §5: getters that npm's getField and xe scripts reach.
    for (const char* m :
         {"session.get_this_user", "session.get_record", "pool.get_record", "pool.get_by_uuid", "pool.get_uuid",
          "pool.get_name_label", "host.get_all", "host.get_by_uuid", "host.get_name_label", "host.get_address",
          "host.get_hostname", "role.get_all", "task.get_all", "VM.get_all", "VM.get_by_name_label",
          "VM.get_uuid", "VM.get_name_label", "VM.get_power_state", "VM.get_domid", "VM.get_is_control_domain",
          "VM.get_is_a_template", "VM.get_resident_on", "VM.get_other_config", "VM.get_consoles",
          "VM.get_HVM_boot_policy", "VM_guest_metrics.get_all", "VM_guest_metrics.get_by_uuid",
          "VM_guest_metrics.get_uuid", "VM_guest_metrics.get_networks", "VM_guest_metrics.get_os_version",
          "VM_guest_metrics.get_PV_drivers_version", "VM_guest_metrics.get_PV_drivers_detected",
          "VM_guest_metrics.get_last_updated", "VM_guest_metrics.get_live", "event.get_current_id"}) {
        INFO(m);
        CHECK(std::binary_search(names.begin(), names.end(), std::string(m)));
    }
}

TEST_CASE("Every VM record carries the identical field set", "[dispatch][records]")
{
    Fixture f;
    const std::string s = f.login();
    auto o = f.call("VM.get_all_records", {s});
    const auto* all = o.result.getIf<Struct>();
    REQUIRE(all != nullptr);
    REQUIRE(all->size() == 4);
    const auto keys = keysOf(all->front().second);
    CHECK(keys.size() > 90);
    for (const auto& [ref, rec] : *all) {
        INFO(ref);
        CHECK(keysOf(rec) == keys);
    }
}

TEST_CASE("VM fields have xapi's types and defaults", "[dispatch][records]")
{
    Fixture f;
    const std::string s = f.login();
    auto rec = f.call("VM.get_record", {s, f.winRef}).result;
    CHECK(*member(rec, "power_state") == Value("Running"));
    CHECK(*member(rec, "domid") == Value(std::int64_t{5}));
    CHECK(*member(rec, "guest_metrics") == Value(f.gmRef));
    CHECK(*member(rec, "resident_on") == Value(f.hostRef));
    CHECK(*member(rec, "snapshot_time") == Value(DateTime{"19700101T00:00:00Z"}));
    CHECK(*member(rec, "VCPUs_max") == Value(std::int64_t{1}));
    CHECK(*member(rec, "allowed_operations") == Value(Array{}));
    CHECK(*member(rec, "domain_type") == Value("hvm"));
    CHECK(*member(rec, "actions_after_shutdown") == Value("destroy"));
    auto halted = f.call("VM.get_record", {s, f.haltedRef}).result;
    CHECK(*member(halted, "power_state") == Value("Halted"));
    CHECK(*member(halted, "domid") == Value(std::int64_t{-1}));
    CHECK(*member(halted, "guest_metrics") == Value("OpaqueRef:NULL"));
}

TEST_CASE("Generated getters answer the record's field", "[dispatch][records]")
{
    Fixture f;
    const std::string s = f.login();
    CHECK(f.call("VM.get_power_state", {s, f.haltedRef}).result == Value("Halted"));
    CHECK(f.call("VM.get_domid", {s, f.winRef}).result == Value(std::int64_t{5}));
    CHECK(f.call("VM.get_is_control_domain", {s, f.dom0Ref}).result == Value(true));
    CHECK(f.call("VM.get_HVM_boot_policy", {s, f.winRef}).result == Value("BIOS order"));
    CHECK(f.call("pool.get_master", {s, f.poolRef}).result == Value(f.hostRef));
    CHECK(f.call("host.get_API_version_major", {s, f.hostRef}).result == Value(std::int64_t{2}));
    CHECK(f.call("host.get_API_version_minor", {s, f.hostRef}).result == Value(std::int64_t{20}));
    auto other = f.call("VM_guest_metrics.get_other", {s, f.gmRef}).result;
    CHECK(*member(other, "feature-ts2") == Value("1"));
    CHECK(f.call("VM.get_by_name_label", {s, "win10"}).result == Value(Array{Value(f.winRef)}));
    CHECK(f.call("session.get_this_host", {s, s}).result == Value(f.hostRef));
}

TEST_CASE("The host record lists its resident VMs and control domain", "[dispatch][records]")
{
    Fixture f;
    const std::string s = f.login();
    auto rec = f.call("host.get_record", {s, f.hostRef}).result;
    const auto* vms = member(rec, "resident_VMs")->getIf<Array>();
    REQUIRE(vms != nullptr);
    CHECK(vms->size() == 3);
    CHECK(*member(rec, "control_domain") == Value(f.dom0Ref));
    CHECK(*member(rec, "API_version_vendor") == Value("XenSource"));
    CHECK(member(*member(rec, "software_version"), "platform_version") != nullptr);
}

TEST_CASE("Guest metrics records carry xapi's full field set", "[dispatch][records]")
{
    Fixture f;
    const std::string s = f.login();
    auto rec = f.call("VM_guest_metrics.get_record", {s, f.gmRef}).result;
    CHECK(keysOf(rec) == std::vector<std::string>{"uuid", "os_version", "netbios_name", "PV_drivers_version",
                                                  "PV_drivers_up_to_date", "memory", "disks", "networks",
                                                  "other", "last_updated", "other_config", "live",
                                                  "can_use_hotplug_vbd", "can_use_hotplug_vif",
                                                  "PV_drivers_detected", "services"});
    CHECK(*member(rec, "can_use_hotplug_vbd") == Value("unspecified"));
    CHECK(member(rec, "last_updated")->is<DateTime>());
}

TEST_CASE("Roles and tasks are served as empty classes", "[dispatch]")
{
    Fixture f;
    const std::string s = f.login();
    CHECK(f.call("role.get_all_records", {s}).result == Value(Struct{}));
    CHECK(f.call("task.get_all", {s}).result == Value(Array{}));
}

TEST_CASE("Counters record calls, errors and latency", "[dispatch][counters]")
{
    Fixture f;
    const std::string s = f.login();
    (void)f.call("VM.get_all", {s});
    (void)f.call("VM.get_all", {"OpaqueRef:bad"});
    (void)f.call("no.such", {});
    const auto& c = f.dispatcher->counters();
    CHECK(c.methods.at("VM.get_all").calls == 2);
    CHECK(c.methods.at("VM.get_all").errors == 1);
    CHECK(c.methods.at("<unknown>").calls == 1);
    CHECK(c.errors.at("SESSION_INVALID") == 1);
    CHECK(c.errors.at("MESSAGE_METHOD_UNKNOWN") == 1);
    CHECK(c.latencyCount == 4);
    CHECK(c.sessions == 1);
    CHECK(c.loginsSucceeded == 1);
}
