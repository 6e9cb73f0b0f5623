#pragma once
/// GuestControl: the one thing the dispatch layer asks of a guest, kept behind
/// an interface so that dispatch does not depend on xenstore.
#include <cstdint>
#include <functional>
#include <system_error>

namespace xenrdp::xapi_rpc::dispatch {

/// Asks a guest's agent to turn RDP on or off.
///
/// The daemon implements it with one plain xenstore write of "1" (enable) or
/// "0" (disable) to /local/domain/<domid>/control/ts, as xenopsd does
/// (reference xapi-rdp-and-wire.md §2.2): no transaction, no wait for the
/// guest to react.
///
/// Threading: requestRdp() is called on the io executor and must not block;
/// `done` must be invoked exactly once, later, on the io executor, with an
/// empty error_code on success. Ownership: the Dispatcher holds a reference;
/// the implementation must outlive it. Failure is reported through `done`
/// (an exception thrown from requestRdp itself is turned into INTERNAL_ERROR).
class GuestControl {
public:
    virtual ~GuestControl() = default;
    GuestControl() = default;
    GuestControl(const GuestControl&) = delete;
    GuestControl& operator=(const GuestControl&) = delete;

    virtual void requestRdp(std::int64_t domid, bool enable,
                            std::function<void(std::error_code)> done) = 0;
};

}  // namespace xenrdp::xapi_rpc::dispatch
