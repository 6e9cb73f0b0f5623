#include <xapi_rpc/dispatch/wire_records.hpp>

#include <cmath>
#include <cstdio>
#include <ctime>
#include <utility>

namespace xenrdp::xapi_rpc::dispatch {
namespace {

using metrics::ConsoleRecord;
using metrics::GuestMetricsRecord;
using metrics::HostRecord;
using metrics::ObjectClass;
using metrics::PoolRecord;
using metrics::StringMap;
using metrics::VmRecord;

const char* const kNull = metrics::kNullRef;
const char* const kEpoch = "19700101T00:00:00Z";

template <class Map>
Value mapValue(const Map& map)
{
    Struct s;
    s.reserve(map.size());
    for (const auto& [k, v] : map) s.emplace_back(std::string(k), Value(std::string(v)));
    return Value(std::move(s));
}

Value refSet(const std::vector<std::string>& refs)
{
    Array a;
    a.reserve(refs.size());
    for (const auto& r : refs) a.emplace_back(r);
    return Value(std::move(a));
}

Value emptySet() { return Value(Array{}); }
Value emptyMap() { return Value(Struct{}); }
Value epoch() { return Value(DateTime{kEpoch}); }

/// A field read from the record of type R.
template <class R, class F>
WireField field(std::string name, F read)
{
    return WireField{std::move(name),
                     [read](const metrics::Record& r, const FieldContext& ctx) -> Value {
                         return read(std::get<R>(r), ctx);
                     }};
}

/// A field xenrdpd does not track: the same value for every object.
WireField fixed(std::string name, Value v)
{
    return WireField{std::move(name),
                     [v = std::move(v)](const metrics::Record&, const FieldContext&) { return v; }};
}

std::vector<WireField> poolFields()
{
    std::vector<WireField> t;
    t.push_back(field<PoolRecord>("uuid", [](const PoolRecord& p, const FieldContext&) { return Value(p.uuid); }));
    t.push_back(field<PoolRecord>("name_label", [](const PoolRecord& p, const FieldContext&) { return Value(p.nameLabel); }));
    t.push_back(field<PoolRecord>("name_description", [](const PoolRecord& p, const FieldContext&) { return Value(p.nameDescription); }));
    t.push_back(field<PoolRecord>("master", [](const PoolRecord& p, const FieldContext&) { return Value(p.master); }));
    t.push_back(fixed("default_SR", kNull));
    t.push_back(fixed("suspend_image_SR", kNull));
    t.push_back(fixed("crash_dump_SR", kNull));
    t.push_back(field<PoolRecord>("other_config", [](const PoolRecord& p, const FieldContext&) { return mapValue(p.otherConfig); }));
    t.push_back(fixed("ha_enabled", false));
    t.push_back(fixed("ha_configuration", emptyMap()));
    t.push_back(fixed("ha_statefiles", emptySet()));
    t.push_back(fixed("ha_host_failures_to_tolerate", std::int64_t{0}));
    t.push_back(fixed("ha_plan_exists_for", std::int64_t{0}));
    t.push_back(fixed("ha_allow_overcommit", false));
    t.push_back(fixed("ha_overcommitted", false));
    t.push_back(fixed("blobs", emptyMap()));
    t.push_back(fixed("tags", emptySet()));
    t.push_back(fixed("gui_config", emptyMap()));
    t.push_back(fixed("health_check_config", emptyMap()));
    t.push_back(fixed("wlb_url", ""));
    t.push_back(fixed("wlb_username", ""));
    t.push_back(fixed("wlb_enabled", false));
    t.push_back(fixed("wlb_verify_cert", false));
    t.push_back(fixed("redo_log_enabled", false));
    t.push_back(fixed("redo_log_vdi", kNull));
    t.push_back(fixed("vswitch_controller", ""));
    t.push_back(fixed("restrictions", emptyMap()));
    t.push_back(fixed("metadata_VDIs", emptySet()));
    t.push_back(fixed("ha_cluster_stack", "xhad"));
    t.push_back(fixed("allowed_operations", emptySet()));
    t.push_back(fixed("current_operations", emptyMap()));
    t.push_back(fixed("guest_agent_config", emptyMap()));
    t.push_back(fixed("cpu_info", emptyMap()));
    t.push_back(fixed("policy_no_vendor_device", false));
    t.push_back(fixed("live_patching_disabled", false));
    t.push_back(fixed("igmp_snooping_enabled", false));
    t.push_back(fixed("uefi_certificates", ""));
    t.push_back(fixed("is_psr_pending", false));
    t.push_back(fixed("tls_verification_enabled", false));
    t.push_back(fixed("repositories", emptySet()));
    t.push_back(fixed("client_certificate_auth_enabled", false));
    t.push_back(fixed("client_certificate_auth_name", ""));
    t.push_back(fixed("repository_proxy_url", ""));
    t.push_back(fixed("repository_proxy_username", ""));
    t.push_back(fixed("repository_proxy_password", kNull));
    t.push_back(fixed("migration_compression", false));
    t.push_back(fixed("coordinator_bias", true));
    return t;
}

std::vector<WireField> hostFields()
{
    std::vector<WireField> t;
    t.push_back(field<HostRecord>("uuid", [](const HostRecord& h, const FieldContext&) { return Value(h.uuid); }));
    t.push_back(field<HostRecord>("name_label", [](const HostRecord& h, const FieldContext&) { return Value(h.nameLabel); }));
    t.push_back(field<HostRecord>("name_description", [](const HostRecord& h, const FieldContext&) { return Value(h.nameDescription); }));
    t.push_back(fixed("memory_overhead", std::int64_t{0}));
    t.push_back(fixed("allowed_operations", emptySet()));
    t.push_back(fixed("current_operations", emptyMap()));
    t.push_back(field<HostRecord>("API_version_major", [](const HostRecord& h, const FieldContext&) { return Value(h.apiVersionMajor); }));
    t.push_back(field<HostRecord>("API_version_minor", [](const HostRecord& h, const FieldContext&) { return Value(h.apiVersionMinor); }));
    t.push_back(fixed("API_version_vendor", "XenSource"));
    t.push_back(fixed("API_version_vendor_implementation", emptyMap()));
    t.push_back(fixed("enabled", true));
    t.push_back(field<HostRecord>("software_version", [](const HostRecord& h, const FieldContext&) {
        return mapValue(h.softwareVersion.empty() ? defaultSoftwareVersion() : h.softwareVersion);
    }));
    t.push_back(field<HostRecord>("other_config", [](const HostRecord& h, const FieldContext&) { return mapValue(h.otherConfig); }));
    t.push_back(fixed("capabilities", emptySet()));
    t.push_back(fixed("cpu_configuration", emptyMap()));
    t.push_back(fixed("sched_policy", "credit"));
    t.push_back(fixed("supported_bootloaders", emptySet()));
    t.push_back(field<HostRecord>("resident_VMs", [](const HostRecord&, const FieldContext& ctx) {
        Array vms;
        for (const auto& [ref, rec] : ctx.store.all(ObjectClass::Vm)) {
            const auto* vm = std::get_if<VmRecord>(rec.get());
            if (vm != nullptr && vm->residentOn == ctx.ref) vms.emplace_back(ref);
        }
        return Value(std::move(vms));
    }));
    t.push_back(fixed("logging", emptyMap()));
    t.push_back(fixed("PIFs", emptySet()));
    t.push_back(fixed("suspend_image_sr", kNull));
    t.push_back(fixed("crash_dump_sr", kNull));
    t.push_back(fixed("crashdumps", emptySet()));
    t.push_back(fixed("patches", emptySet()));
    t.push_back(fixed("updates", emptySet()));
    t.push_back(fixed("PBDs", emptySet()));
    t.push_back(fixed("host_CPUs", emptySet()));
    t.push_back(fixed("cpu_info", emptyMap()));
    t.push_back(field<HostRecord>("hostname", [](const HostRecord& h, const FieldContext&) { return Value(h.hostname); }));
    t.push_back(field<HostRecord>("address", [](const HostRecord& h, const FieldContext&) { return Value(h.address); }));
    t.push_back(fixed("metrics", kNull));
    t.push_back(fixed("license_params", emptyMap()));
    t.push_back(fixed("ha_statefiles", emptySet()));
    t.push_back(fixed("ha_network_peers", emptySet()));
    t.push_back(fixed("blobs", emptyMap()));
    t.push_back(fixed("tags", emptySet()));
    t.push_back(fixed("external_auth_type", ""));
    t.push_back(fixed("external_auth_service_name", ""));
    t.push_back(fixed("external_auth_configuration", emptyMap()));
    t.push_back(fixed("edition", ""));
    t.push_back(fixed("license_server", emptyMap()));
    t.push_back(fixed("bios_strings", emptyMap()));
    t.push_back(fixed("power_on_mode", ""));
    t.push_back(fixed("power_on_config", emptyMap()));
    t.push_back(fixed("local_cache_sr", kNull));
    t.push_back(fixed("chipset_info", emptyMap()));
    t.push_back(fixed("PCIs", emptySet()));
    t.push_back(fixed("PGPUs", emptySet()));
    t.push_back(fixed("PUSBs", emptySet()));
    t.push_back(fixed("ssl_legacy", false));
    t.push_back(fixed("guest_VCPUs_params", emptyMap()));
    t.push_back(fixed("display", "enabled"));
    t.push_back(fixed("virtual_hardware_platform_versions", Array{Value(std::int64_t{0})}));
    t.push_back(field<HostRecord>("control_domain", [](const HostRecord&, const FieldContext& ctx) {
        for (const auto& [ref, rec] : ctx.store.all(ObjectClass::Vm)) {
            const auto* vm = std::get_if<VmRecord>(rec.get());
            if (vm != nullptr && vm->isControlDomain && vm->residentOn == ctx.ref) return Value(ref);
        }
        return Value(kNull);
    }));
    t.push_back(fixed("updates_requiring_reboot", emptySet()));
    t.push_back(fixed("features", emptySet()));
    t.push_back(fixed("iscsi_iqn", ""));
    t.push_back(fixed("multipathing", false));
    t.push_back(fixed("uefi_certificates", ""));
    t.push_back(fixed("certificates", emptySet()));
    t.push_back(fixed("editions", emptySet()));
    t.push_back(fixed("pending_guidances", emptySet()));
    t.push_back(fixed("tls_verification_enabled", false));
    t.push_back(fixed("last_software_update", epoch()));
    t.push_back(fixed("https_only", false));
    t.push_back(fixed("latest_synced_updates_applied", "unknown"));
    return t;
}

std::vector<WireField> vmFields()
{
    std::vector<WireField> t;
    auto str = [&t](const char* name, std::string VmRecord::*member) {
        t.push_back(field<VmRecord>(name, [member](const VmRecord& v, const FieldContext&) { return Value(v.*member); }));
    };
    str("uuid", &VmRecord::uuid);
    t.push_back(fixed("allowed_operations", emptySet()));
    t.push_back(field<VmRecord>("current_operations", [](const VmRecord& v, const FieldContext&) { return mapValue(v.currentOperations); }));
    str("name_label", &VmRecord::nameLabel);
    str("name_description", &VmRecord::nameDescription);
    t.push_back(field<VmRecord>("power_state", [](const VmRecord& v, const FieldContext&) { return Value(metrics::powerStateName(v.powerState)); }));
    t.push_back(fixed("user_version", std::int64_t{1}));
    t.push_back(fixed("is_a_template", false));
    t.push_back(fixed("is_default_template", false));
    t.push_back(fixed("suspend_VDI", kNull));
    str("resident_on", &VmRecord::residentOn);
    t.push_back(fixed("scheduled_to_be_resident_on", kNull));
    t.push_back(fixed("affinity", kNull));
    for (const char* m : {"memory_overhead", "memory_target", "memory_static_max", "memory_dynamic_max",
                          "memory_dynamic_min", "memory_static_min"}) {
        t.push_back(fixed(m, std::int64_t{0}));
    }
    t.push_back(fixed("VCPUs_params", emptyMap()));
    t.push_back(fixed("VCPUs_max", std::int64_t{1}));
    t.push_back(fixed("VCPUs_at_startup", std::int64_t{1}));
    t.push_back(fixed("actions_after_softreboot", "soft_reboot"));
    t.push_back(fixed("actions_after_shutdown", "destroy"));
    t.push_back(fixed("actions_after_reboot", "restart"));
    t.push_back(fixed("actions_after_crash", "restart"));
    t.push_back(field<VmRecord>("consoles", [](const VmRecord& v, const FieldContext&) { return refSet(v.consoles); }));
    for (const char* s : {"VIFs", "VBDs", "VUSBs", "crash_dumps", "VTPMs"}) t.push_back(fixed(s, emptySet()));
    for (const char* s : {"PV_bootloader", "PV_kernel", "PV_ramdisk", "PV_args", "PV_bootloader_args",
                          "PV_legacy_args"}) {
        t.push_back(fixed(s, ""));
    }
    str("HVM_boot_policy", &VmRecord::hvmBootPolicy);
    t.push_back(field<VmRecord>("HVM_boot_params", [](const VmRecord& v, const FieldContext&) {
        return v.hvmBootPolicy.empty() ? emptyMap() : Value(Struct{{"order", Value("cd")}});
    }));
    t.push_back(fixed("HVM_shadow_multiplier", 1.0));
    t.push_back(fixed("platform", emptyMap()));
    t.push_back(fixed("PCI_bus", ""));
    t.push_back(field<VmRecord>("other_config", [](const VmRecord& v, const FieldContext&) { return mapValue(v.otherConfig); }));
    t.push_back(field<VmRecord>("domid", [](const VmRecord& v, const FieldContext&) { return Value(v.domid); }));
    t.push_back(fixed("domarch", ""));
    t.push_back(fixed("last_boot_CPU_flags", emptyMap()));
    t.push_back(field<VmRecord>("is_control_domain", [](const VmRecord& v, const FieldContext&) { return Value(v.isControlDomain); }));
    t.push_back(fixed("metrics", kNull));
    str("guest_metrics", &VmRecord::guestMetrics);
    t.push_back(fixed("last_booted_record", ""));
    t.push_back(fixed("recommendations", ""));
    t.push_back(fixed("xenstore_data", emptyMap()));
    t.push_back(fixed("ha_always_run", false));
    t.push_back(fixed("ha_restart_priority", ""));
    t.push_back(fixed("is_a_snapshot", false));
    t.push_back(fixed("snapshot_of", kNull));
    t.push_back(fixed("snapshots", emptySet()));
    t.push_back(fixed("snapshot_time", epoch()));
    t.push_back(fixed("transportable_snapshot_id", ""));
    t.push_back(fixed("blobs", emptyMap()));
    t.push_back(fixed("tags", emptySet()));
    t.push_back(fixed("blocked_operations", emptyMap()));
    t.push_back(fixed("snapshot_info", emptyMap()));
    t.push_back(fixed("snapshot_metadata", ""));
    t.push_back(fixed("parent", kNull));
    t.push_back(fixed("children", emptySet()));
    t.push_back(fixed("bios_strings", emptyMap()));
    t.push_back(fixed("protection_policy", kNull));
    t.push_back(fixed("is_snapshot_from_vmpp", false));
    t.push_back(fixed("snapshot_schedule", kNull));
    t.push_back(fixed("is_vmss_snapshot", false));
    t.push_back(fixed("appliance", kNull));
    t.push_back(fixed("start_delay", std::int64_t{0}));
    t.push_back(fixed("shutdown_delay", std::int64_t{0}));
    t.push_back(fixed("order", std::int64_t{0}));
    t.push_back(fixed("VGPUs", emptySet()));
    t.push_back(fixed("attached_PCIs", emptySet()));
    t.push_back(fixed("suspend_SR", kNull));
    t.push_back(fixed("version", std::int64_t{0}));
    t.push_back(fixed("generation_id", "0:0"));
    t.push_back(fixed("hardware_platform_version", std::int64_t{0}));
    t.push_back(fixed("has_vendor_device", false));
    t.push_back(fixed("requires_reboot", false));
    t.push_back(fixed("reference_label", ""));
    t.push_back(field<VmRecord>("domain_type", [](const VmRecord& v, const FieldContext&) {
        return Value(v.hvmBootPolicy.empty() ? "pv" : "hvm");
    }));
    t.push_back(fixed("NVRAM", emptyMap()));
    t.push_back(fixed("pending_guidances", emptySet()));
    t.push_back(fixed("pending_guidances_recommended", emptySet()));
    t.push_back(fixed("pending_guidances_full", emptySet()));
    t.push_back(fixed("groups", emptySet()));
    return t;
}

std::vector<WireField> guestMetricsFields()
{
    using G = GuestMetricsRecord;
    std::vector<WireField> t;
    auto map = [&t](const char* name, metrics::CompactMap G::*member) {
        t.push_back(field<G>(name, [member](const G& g, const FieldContext&) { return mapValue(g.*member); }));
    };
    auto flag = [&t](const char* name, bool G::*member) {
        t.push_back(field<G>(name, [member](const G& g, const FieldContext&) { return Value(g.*member); }));
    };
    t.push_back(field<G>("uuid", [](const G& g, const FieldContext&) { return Value(g.uuid); }));
    map("os_version", &G::osVersion);
    map("netbios_name", &G::netbiosName);
    map("PV_drivers_version", &G::pvDriversVersion);
    flag("PV_drivers_up_to_date", &G::pvDriversUpToDate);
    t.push_back(fixed("memory", emptyMap()));
    t.push_back(fixed("disks", emptyMap()));
    map("networks", &G::networks);
    map("other", &G::other);
    t.push_back(field<G>("last_updated", [](const G& g, const FieldContext&) {
        return Value(DateTime{formatDateTime(g.lastUpdated)});
    }));
    t.push_back(fixed("other_config", emptyMap()));
    flag("live", &G::live);
    t.push_back(field<G>("can_use_hotplug_vbd", [](const G& g, const FieldContext&) { return Value(metrics::tristateName(g.canUseHotplugVbd)); }));
    t.push_back(field<G>("can_use_hotplug_vif", [](const G& g, const FieldContext&) { return Value(metrics::tristateName(g.canUseHotplugVif)); }));
    flag("PV_drivers_detected", &G::pvDriversDetected);
    map("services", &G::services);
    return t;
}

std::vector<WireField> consoleFields()
{
    using C = ConsoleRecord;
    std::vector<WireField> t;
    t.push_back(field<C>("uuid", [](const C& c, const FieldContext&) { return Value(c.uuid); }));
    t.push_back(field<C>("protocol", [](const C& c, const FieldContext&) { return Value(c.protocol); }));
    t.push_back(field<C>("location", [](const C& c, const FieldContext&) { return Value(c.location); }));
    t.push_back(field<C>("VM", [](const C& c, const FieldContext&) { return Value(c.vm); }));
    t.push_back(field<C>("other_config", [](const C& c, const FieldContext&) { return mapValue(c.otherConfig); }));
    return t;
}

}  // namespace

const std::vector<WireField>& wireFields(metrics::ObjectClass cls)
{
    // Built on first use; immutable afterwards (function-local statics are
    // initialised thread-safely and hold no mutable state).
    static const std::vector<WireField> pool = poolFields();
    static const std::vector<WireField> host = hostFields();
    static const std::vector<WireField> vm = vmFields();
    static const std::vector<WireField> gm = guestMetricsFields();
    static const std::vector<WireField> console = consoleFields();
    switch (cls) {
    case ObjectClass::Pool: return pool;
    case ObjectClass::Host: return host;
    case ObjectClass::Vm: return vm;
    case ObjectClass::GuestMetrics: return gm;
    case ObjectClass::Console: return console;
    }
    return console;
}

Value recordValue(const metrics::Record& record, const FieldContext& ctx)
{
    const auto& fields = wireFields(metrics::classOf(record));
    Struct s;
    s.reserve(fields.size());
    for (const auto& f : fields) s.emplace_back(f.name, f.get(record, ctx));
    return Value(std::move(s));
}

std::string formatDateTime(metrics::TimePoint t)
{
    const std::time_t secs = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    if (gmtime_r(&secs, &tm) == nullptr) return kEpoch;
    char buf[96];
    std::snprintf(buf, sizeof buf, "%04d%02d%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return buf;
}

std::string ocamlFloat(double value)
{
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.12g", value);
    std::string s = buf;
    // OCaml's valid_float_lexem: add "." when only digits (and a sign) remain.
    bool integral = true;
    for (char c : s) {
        if (c != '-' && (c < '0' || c > '9')) integral = false;
    }
    if (integral) s += '.';
    return s;
}

metrics::StringMap defaultSoftwareVersion()
{
    return {
        {"product_version", "8.2.1"},
        {"product_version_text", "8.2"},
        {"product_version_text_short", "8.2"},
        {"platform_name", "XCP"},
        {"platform_version", "3.2.1"},
        {"product_brand", "XenServer"},
        {"build_number", "xenrdpd"},
        {"xapi", "2.20"},
        {"xen", "4.17"},
    };
}

}  // namespace xenrdp::xapi_rpc::dispatch
