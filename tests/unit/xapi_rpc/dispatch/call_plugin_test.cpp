#include <catch2/catch.hpp>

#include <chrono>
#include <regex>
#include <string>
#include <vector>

#include "dispatch_test_support.hpp"

using namespace xenrdp::xapi_rpc;
using namespace xenrdp::xapi_rpc::dispatch;
using namespace xenrdp::xapi_rpc::dispatch::test;
using Errors = std::vector<std::string>;

namespace {

Outcome plugin(Fixture& f, const std::string& s, const std::string& vm, const std::string& fn,
               const std::string& pluginName = "guest-agent-operation", Value args = Struct{})
{
    return f.call("VM.call_plugin", {s, vm, pluginName, fn, std::move(args)});
}

}  // namespace

TEST_CASE("request-rdp-on writes exactly one \"1\" for the VM's domid", "[dispatch][call_plugin]")
{
    Fixture f;
    const std::string s = f.login();
    auto o = plugin(f, s, f.winRef, "request-rdp-on");
    REQUIRE(o.success);
    CHECK(o.result == Value(""));
    REQUIRE(f.guest.writes.size() == 1);
    CHECK(f.guest.writes[0] == std::make_pair(std::int64_t{5}, std::string("1")));
}

TEST_CASE("Both fn spellings turn RDP on and off", "[dispatch][call_plugin]")
{
    Fixture f;
    const std::string s = f.login("operator", "oppw");
    for (const char* fn : {"request-rdp-off", "request_rdp_on", "request_rdp_off"}) {
        INFO(fn);
        CHECK(plugin(f, s, f.winRef, fn).success);
    }
    REQUIRE(f.guest.writes.size() == 3);
    CHECK(f.guest.writes[0].second == "0");
    CHECK(f.guest.writes[1].second == "1");
    CHECK(f.guest.writes[2].second == "0");
}

TEST_CASE("call_plugin on a bad VM ref is HANDLE_INVALID [VM, ref]", "[dispatch][call_plugin]")
{
    Fixture f;
    const std::string s = f.login();
    CHECK(plugin(f, s, "OpaqueRef:nope", "request-rdp-on").error == Errors{"HANDLE_INVALID", "VM", "OpaqueRef:nope"});
}

TEST_CASE("call_plugin on a halted VM is VM_BAD_POWER_STATE with lowercase states", "[dispatch][call_plugin]")
{
    Fixture f;
    const std::string s = f.login();
    CHECK(plugin(f, s, f.haltedRef, "request-rdp-on").error ==
          Errors{"VM_BAD_POWER_STATE", f.haltedRef, "running", "halted"});
}

TEST_CASE("call_plugin on the control domain is OPERATION_NOT_ALLOWED", "[dispatch][call_plugin]")
{
    Fixture f;
    const std::string s = f.login();
    CHECK(plugin(f, s, f.dom0Ref, "request-rdp-on").error ==
          Errors{"OPERATION_NOT_ALLOWED", "This operation is not allowed on a control domain"});
}

TEST_CASE("Another plugin name is XENAPI_MISSING_PLUGIN [plugin]", "[dispatch][call_plugin]")
{
    Fixture f;
    const std::string s = f.login();
    CHECK(plugin(f, s, f.winRef, "request-rdp-on", "other-plugin").error ==
          Errors{"XENAPI_MISSING_PLUGIN", "other-plugin"});
}

TEST_CASE("An unknown fn is XENAPI_PLUGIN_FAILURE with xapi's failed-to-find text", "[dispatch][call_plugin]")
{
    Fixture f;
    const std::string s = f.login();
    const std::string msg =
        "The requested fn \"run-script\" could not be found in plugin \"guest-agent-operation\".";
    CHECK(plugin(f, s, f.winRef, "run-script").error ==
          Errors{"XENAPI_PLUGIN_FAILURE", "failed to find fn", msg, msg});
    CHECK(f.guest.writes.empty());
}

TEST_CASE("Without a truthy feature-ts2 the call is XENAPI_PLUGIN_FAILURE failed to execute fn", "[dispatch][call_plugin]")
{
    Fixture f;
    const std::string s = f.login();
    const std::string msg = "The requested fn \"request_rdp_on\" of plugin \"guest-agent-operation\" could "
                            "not be executed for lack of guest agent control feature.";
    CHECK(plugin(f, s, f.linuxRef, "request_rdp_on").error ==
          Errors{"XENAPI_PLUGIN_FAILURE", "failed to execute fn", msg, msg});
    CHECK(f.guest.writes.empty());
}

TEST_CASE("args must be a map of strings", "[dispatch][call_plugin]")
{
    Fixture f;
    const std::string s = f.login();
    CHECK(plugin(f, s, f.winRef, "request-rdp-on", "guest-agent-operation", Value("x")).error ==
          Errors{"FIELD_TYPE_ERROR", "args"});
    CHECK(plugin(f, s, f.winRef, "request-rdp-on", "guest-agent-operation",
                 Value(Struct{{"k", Value(std::int64_t{1})}}))
              .error == Errors{"FIELD_TYPE_ERROR", "args"});
}

TEST_CASE("A GuestControl failure is INTERNAL_ERROR with its message", "[dispatch][call_plugin]")
{
    Fixture f;
    f.guest.result = std::make_error_code(std::errc::no_such_file_or_directory);
    const std::string s = f.login();
    auto o = plugin(f, s, f.winRef, "request-rdp-on");
    CHECK(o.error == Errors{"INTERNAL_ERROR", std::make_error_code(std::errc::no_such_file_or_directory).message()});
}

TEST_CASE("A second call within the interval is VM_CALL_PLUGIN_RATE_LIMIT with OCaml floats", "[dispatch][call_plugin]")
{
    DispatcherConfig config;
    config.callPluginInterval = std::chrono::seconds(10);
    Fixture f(config);
    const std::string s = f.login();
    REQUIRE(plugin(f, s, f.winRef, "request-rdp-on").success);
    auto o = plugin(f, s, f.winRef, "request-rdp-on");
    REQUIRE(o.error.size() == 4);
    CHECK(o.error[0] == "VM_CALL_PLUGIN_RATE_LIMIT");
    CHECK(o.error[1] == f.winRef);
    CHECK(o.error[2] == "10.");
    CHECK(std::regex_match(o.error[3], std::regex(R"([0-9]\.[0-9]+|10\.)")));
    CHECK(std::stod(o.error[3]) > 9.0);
    CHECK(f.guest.writes.size() == 1);
    // The limit is per VM.
    CHECK(plugin(f, s, f.linuxRef, "request-rdp-on").error[0] == "XENAPI_PLUGIN_FAILURE");
}

TEST_CASE("The rate limit slot is taken before fn dispatch", "[dispatch][call_plugin]")
{
    DispatcherConfig config;
    config.callPluginInterval = std::chrono::seconds(10);
    Fixture f(config);
    const std::string s = f.login();
    // An unknown fn still consumes the slot.
    CHECK(plugin(f, s, f.winRef, "no-such-fn").error[0] == "XENAPI_PLUGIN_FAILURE");
    CHECK(plugin(f, s, f.winRef, "request-rdp-on").error[0] == "VM_CALL_PLUGIN_RATE_LIMIT");
    CHECK(f.guest.writes.empty());
}

TEST_CASE("A rejected call does not refresh the rate limit slot", "[dispatch][call_plugin]")
{
    DispatcherConfig config;
    config.callPluginInterval = std::chrono::seconds(1);
    Fixture f(config);
    const std::string s = f.login();
    const auto start = std::chrono::steady_clock::now();
    REQUIRE(plugin(f, s, f.winRef, "request-rdp-on").success);
    // Half-way through the interval a call is rejected...
    runUntil(f.io, [start] { return std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(500); });
    auto rejected = plugin(f, s, f.winRef, "request-rdp-on");
    REQUIRE(rejected.error.size() == 4);
    CHECK(rejected.error[2] == "1.");
    // ...and the next accepted call comes one interval after the first
    // call, not one interval after the rejection.
    const bool through = runUntil(f.io, [&f, &s] { return plugin(f, s, f.winRef, "request-rdp-on").success; });
    const auto elapsed = std::chrono::steady_clock::now() - start;
    CHECK(through);
    CHECK(elapsed >= std::chrono::milliseconds(1000));
    CHECK(elapsed < std::chrono::milliseconds(1450));
    CHECK(f.guest.writes.size() == 2);
}

// xapi's order (reference xapi-rdp-and-wire.md §1.2-1.5): session, RBAC, the VM
// handle, power state, control domain, plugin, rate limit, fn, feature-ts2.
// Each case below holds two faults; the earlier check must win.

TEST_CASE("Power state, then the control domain, come before the plugin name", "[dispatch][call_plugin][order]")
{
    Fixture f;
    const std::string s = f.login();
    // A halted VM and a wrong plugin: VM_BAD_POWER_STATE.
    CHECK(plugin(f, s, f.haltedRef, "request-rdp-on", "other-plugin").error ==
          Errors{"VM_BAD_POWER_STATE", f.haltedRef, "running", "halted"});
    // The (running) control domain and a wrong plugin: OPERATION_NOT_ALLOWED.
    CHECK(plugin(f, s, f.dom0Ref, "request-rdp-on", "other-plugin").error ==
          Errors{"OPERATION_NOT_ALLOWED", "This operation is not allowed on a control domain"});
    CHECK(f.guest.writes.empty());
}

TEST_CASE("RBAC comes before the VM's power state and its handle", "[dispatch][call_plugin][order]")
{
    Fixture f;
    const std::string s = f.login("reader", "readpw");
    const Errors denied{"RBAC_PERMISSION_DENIED", "vm.call_plugin",
                        "No permission in user session. (Roles with this permission: pool-admin, "
                        "pool-operator, vm-power-admin, vm-admin, vm-operator)"};
    CHECK(plugin(f, s, f.haltedRef, "request-rdp-on").error == denied);
    CHECK(plugin(f, s, f.dom0Ref, "request-rdp-on", "other-plugin").error == denied);
    CHECK(plugin(f, s, "OpaqueRef:nope", "request-rdp-on").error == denied);
}

TEST_CASE("The VM handle comes before the plugin name", "[dispatch][call_plugin][order]")
{
    Fixture f;
    const std::string s = f.login();
    CHECK(plugin(f, s, "OpaqueRef:nope", "request-rdp-on", "other-plugin").error ==
          Errors{"HANDLE_INVALID", "VM", "OpaqueRef:nope"});
}

TEST_CASE("Refusals before the rate limit check do not take the VM's slot", "[dispatch][call_plugin][order]")
{
    DispatcherConfig config;
    config.callPluginInterval = std::chrono::seconds(10);
    Fixture f(config);
    const std::string s = f.login();
    // XENAPI_MISSING_PLUGIN is raised before xapi records the call.
    CHECK(plugin(f, s, f.winRef, "request-rdp-on", "other-plugin").error ==
          Errors{"XENAPI_MISSING_PLUGIN", "other-plugin"});
    CHECK(plugin(f, s, f.winRef, "request-rdp-on", "other-plugin").error ==
          Errors{"XENAPI_MISSING_PLUGIN", "other-plugin"});
    // So the first real request still gets through...
    auto o = plugin(f, s, f.winRef, "request-rdp-on");
    CHECK(o.success);
    CHECK(f.guest.writes.size() == 1);
    // ...and only then is the slot taken.
    auto limited = plugin(f, s, f.winRef, "request-rdp-on");
    REQUIRE(limited.error.size() == 4);
    CHECK(limited.error[0] == "VM_CALL_PLUGIN_RATE_LIMIT");
    CHECK(limited.error[1] == f.winRef);
    CHECK(limited.error[2] == "10.");
    // A wrong plugin on a limited VM is still XENAPI_MISSING_PLUGIN: the
    // plugin check comes first.
    CHECK(plugin(f, s, f.winRef, "request-rdp-on", "other-plugin").error ==
          Errors{"XENAPI_MISSING_PLUGIN", "other-plugin"});
    // An RBAC refusal leaves no slot either: the next allowed call on that
    // VM reaches its fn (and takes the slot there).
    const std::string reader = f.login("reader", "readpw");
    CHECK(plugin(f, reader, f.linuxRef, "request-rdp-on").error[0] == "RBAC_PERMISSION_DENIED");
    CHECK(plugin(f, s, f.linuxRef, "request-rdp-on").error[0] == "XENAPI_PLUGIN_FAILURE");
    CHECK(plugin(f, s, f.linuxRef, "request-rdp-on").error[0] == "VM_CALL_PLUGIN_RATE_LIMIT");
}

// host.call_plugin: xenrdpd has no host plugins (os-xenapi's XenAPISession
// asks for dom0_plugin_version.py at start-up).

TEST_CASE("host.call_plugin is XENAPI_MISSING_PLUGIN [plugin] for a pool-admin", "[dispatch][call_plugin][host]")
{
    Fixture f;
    const std::string s = f.login();
    // What os-xenapi sends: ".py" appended, a pickled (base64, arriving
    // decoded) params value and the host's uuid.
    auto o = f.call("host.call_plugin", {s, f.hostRef, "dom0_plugin_version.py", "get_version",
                                         Struct{{"params", Value(std::string("\x80\x04\x95", 3))},
                                                {"host_uuid", Value("0b3e")}}});
    CHECK(o.error == Errors{"XENAPI_MISSING_PLUGIN", "dom0_plugin_version.py"});
    // The RDP plugin is a VM plugin, not a host one.
    CHECK(f.call("host.call_plugin", {s, f.hostRef, "guest-agent-operation", "request-rdp-on", Struct{}}).error ==
          Errors{"XENAPI_MISSING_PLUGIN", "guest-agent-operation"});
    CHECK(f.guest.writes.empty());
}

TEST_CASE("host.call_plugin needs pool-admin, checked before the host ref", "[dispatch][call_plugin][host]")
{
    Fixture f;
    const Errors denied{"RBAC_PERMISSION_DENIED", "host.call_plugin",
                        "No permission in user session. (Roles with this permission: pool-admin)"};
    for (auto [user, pw] : {std::pair{"operator", "oppw"}, std::pair{"reader", "readpw"}}) {
        INFO(user);
        const std::string s = f.login(user, pw);
        CHECK(f.call("host.call_plugin", {s, f.hostRef, "x.py", "fn", Struct{}}).error == denied);
        CHECK(f.call("host.call_plugin", {s, "OpaqueRef:nope", "x.py", "fn", Struct{}}).error == denied);
    }
}

TEST_CASE("host.call_plugin checks the session, the params' types, the host, then the plugin",
          "[dispatch][call_plugin][host]")
{
    Fixture f;
    const std::string s = f.login();
    CHECK(f.call("host.call_plugin", {"OpaqueRef:gone", "OpaqueRef:nope", "x.py", "fn", Struct{}}).error ==
          Errors{"SESSION_INVALID", "OpaqueRef:gone"});
    CHECK(f.call("host.call_plugin", {s, f.hostRef, "x.py", "fn"}).error ==
          Errors{"MESSAGE_PARAMETER_COUNT_MISMATCH", "host.call_plugin", "5", "4"});
    CHECK(f.call("host.call_plugin", {s, f.hostRef, "x.py", "fn", Value("not a map")}).error ==
          Errors{"FIELD_TYPE_ERROR", "args"});
    CHECK(f.call("host.call_plugin", {s, "OpaqueRef:nope", "x.py", "fn", Struct{}}).error ==
          Errors{"HANDLE_INVALID", "host", "OpaqueRef:nope"});
    // A VM ref is not a host.
    CHECK(f.call("host.call_plugin", {s, f.winRef, "x.py", "fn", Struct{}}).error ==
          Errors{"HANDLE_INVALID", "host", f.winRef});
}
