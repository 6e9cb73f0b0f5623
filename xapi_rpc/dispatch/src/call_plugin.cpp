// VM.call_plugin("guest-agent-operation", "request-rdp-on"|"request-rdp-off"),
// with xapi's checks in xapi's order (reference xapi-rdp-and-wire.md §1.2-1.5),
// and host.call_plugin, for which xenrdpd has no plugins.
#include "dispatcher_impl.hpp"

#include <spdlog/logger.h>

#include <xapi_rpc/dispatch/wire_records.hpp>
#include <xapi_rpc/transport/log_text.hpp>

#include <utility>

namespace xenrdp::xapi_rpc::dispatch {
namespace {

const char* const kPlugin = "guest-agent-operation";

/// xapi's request_rdp gate: other["feature-ts2"] present and not "" or "0".
bool featureTs2(const metrics::ObjectStore& store, const metrics::VmRecord& vm)
{
    const auto* gm = store.getAs<metrics::GuestMetricsRecord>(vm.guestMetrics);
    if (gm == nullptr) return false;
    auto it = gm->other.find("feature-ts2");
    return it != gm->other.end() && !it->second.empty() && it->second != "0";
}

}  // namespace

void DispatcherImpl::registerCallPlugin()
{
    MethodSpec spec;
    spec.minParams = 5;
    spec.maxParams = 5;
    spec.role = auth::Role::VmOperator;
    spec.run = [self = this](Invocation& inv) {
        const std::string vmRef = stringParam(inv, 1, "vm");
        const std::string plugin = stringParam(inv, 2, "plugin");
        const std::string fn = stringParam(inv, 3, "fn");
        (void)mapParam(inv, 4, "args");  // ignored by the RDP fns, but must be a (string->string) map

        const auto* vm = self->store_.getAs<metrics::VmRecord>(vmRef);
        if (vm == nullptr) fail({"HANDLE_INVALID", "VM", vmRef});
        if (vm->powerState != metrics::PowerState::Running) {
            fail({"VM_BAD_POWER_STATE", vmRef, "running",
                  toLower(metrics::powerStateName(vm->powerState))});
        }
        if (vm->isControlDomain) {
            fail({"OPERATION_NOT_ALLOWED", "This operation is not allowed on a control domain"});
        }
        if (plugin != kPlugin) fail({"XENAPI_MISSING_PLUGIN", plugin});

        // Per-VM throttle: the slot is taken before fn dispatch (so unknown
        // fns and refused requests count too); a rejected call keeps the old slot.
        const auto interval = self->config_.callPluginInterval;
        if (interval.count() > 0) {
            const auto now = std::chrono::steady_clock::now();
            std::erase_if(self->pluginCalls_, [now, interval](const auto& entry) {
                return now - entry.second >= interval;
            });
            auto it = self->pluginCalls_.find(vmRef);
            if (it != self->pluginCalls_.end()) {
                const auto wait = it->second + interval - now;
                const double intervalSecs = std::chrono::duration<double>(interval).count();
                const double waitSecs = static_cast<double>(
                    std::chrono::duration_cast<std::chrono::nanoseconds>(wait).count()) / 1e9;
                fail({"VM_CALL_PLUGIN_RATE_LIMIT", vmRef, ocamlFloat(intervalSecs), ocamlFloat(waitSecs)});
            }
            self->pluginCalls_[vmRef] = now;
        }

        bool enable = false;
        if (fn == "request-rdp-on" || fn == "request_rdp_on") {
            enable = true;
        } else if (fn == "request-rdp-off" || fn == "request_rdp_off") {
            enable = false;
        } else {
            const std::string msg =
                "The requested fn \"" + fn + "\" could not be found in plugin \"" + plugin + "\".";
            fail({"XENAPI_PLUGIN_FAILURE", "failed to find fn", msg, msg});
        }
        if (!featureTs2(self->store_, *vm)) {
            const std::string msg = "The requested fn \"" + fn + "\" of plugin \"" + plugin +
                                    "\" could not be executed for lack of guest agent control feature.";
            fail({"XENAPI_PLUGIN_FAILURE", "failed to execute fn", msg, msg});
        }

        const std::int64_t domid = vm->domid;
        ++self->counters_.rdpRequests;
        self->log_->info("RPC_REQUEST_RDP vm={} domid={} enable={} user={}", vmRef, domid, enable,
                         transport::logText(inv.session->user));
        self->guest_.requestRdp(domid, enable, [reply = inv.reply](std::error_code ec) {
            try {
                if (ec) {
                    reply(Outcome::failure({"INTERNAL_ERROR", ec.message()}));
                } else {
                    reply(Outcome::ok(Value("")));
                }
            } catch (...) {
                reply(Outcome::failure({"INTERNAL_ERROR", "guest control failed"}));
            }
        });
    };
    add("VM.call_plugin", std::move(spec));

    // host.call_plugin (xenapi-clients.md §5; os-xenapi's XenAPISession calls
    // it at start-up). xapi: pool-admin only (_R_POOL_ADMIN), the host ref is
    // resolved when the call is forwarded to that host, then the plugin is
    // looked up in the host's plugin directory: XENAPI_MISSING_PLUGIN [plugin]
    // for a name that is not there. xenrdpd has no plugin directory, so every
    // name is missing.
    MethodSpec host;
    host.minParams = 5;
    host.maxParams = 5;
    host.role = auth::Role::PoolAdmin;
    host.run = [self = this](Invocation& inv) {
        const std::string& hostRef = stringParam(inv, 1, "host");
        const std::string& plugin = stringParam(inv, 2, "plugin");
        (void)stringParam(inv, 3, "fn");
        (void)mapParam(inv, 4, "args");  // base64 values arrive decoded, as strings
        if (self->store_.getAs<metrics::HostRecord>(hostRef) == nullptr) {
            fail({"HANDLE_INVALID", "host", hostRef});
        }
        fail({"XENAPI_MISSING_PLUGIN", plugin});
    };
    add("host.call_plugin", std::move(host));
}

// Beside the rate limit it sets (dispatcher.hpp declares it).
void Dispatcher::setCallPluginInterval(std::chrono::nanoseconds interval) noexcept
{
    impl_->config_.callPluginInterval = interval;
}

}  // namespace xenrdp::xapi_rpc::dispatch
