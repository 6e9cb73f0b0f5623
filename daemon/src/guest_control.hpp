#pragma once
// XenstoreGuestControl: the daemon's answer to VM.call_plugin's RDP request,
// a xenstore write of "1" or "0" to /local/domain/<domid>/control/ts, as
// xenopsd does (reference xapi-rdp-and-wire.md §2.2), made in a transaction
// that first checks the domain's control/ directory still exists.
#include <xapi_rpc/dispatch/guest_control.hpp>

namespace xenrdp::xenstore {
class Connection;
}

namespace xenrdp::daemon {

class XenstoreGuestControl final : public xapi_rpc::dispatch::GuestControl {
public:
    explicit XenstoreGuestControl(xenstore::Connection& xs) : xs_(xs) {}

    /// `domid` comes from a VM record the domain watcher built from a domain
    /// it validated; it is checked again here (a guest domid, never dom0),
    /// so nothing but that one node can ever be written, and only while the
    /// domain's control/ directory exists (else ENOENT, nothing written).
    void requestRdp(std::int64_t domid, bool enable,
                    std::function<void(std::error_code)> done) override;

private:
    xenstore::Connection& xs_;
};

}  // namespace xenrdp::daemon
