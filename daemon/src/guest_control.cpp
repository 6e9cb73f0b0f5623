#include "guest_control.hpp"

#include <xenstore/client.hpp>
#include <xenstore/connection.hpp>

#include <memory>
#include <string>

namespace xenrdp::daemon {

void XenstoreGuestControl::requestRdp(std::int64_t domid, bool enable,
                                      std::function<void(std::error_code)> done)
{
    // DOMID_FIRST_RESERVED is 0x7FF0; 0 is the control domain.
    if (domid <= 0 || domid >= 0x7FF0) {
        auto result = std::make_error_code(std::errc::invalid_argument);
        xs_.post([](xenstore::Client&) {}, [done = std::move(done), result] { done(result); });
        return;
    }
    auto error = std::make_shared<std::error_code>();
    std::string path = "/local/domain/" + std::to_string(domid) + "/control/ts";
    xs_.post(
        [path = std::move(path), enable, error](xenstore::Client& client) {
            client.write(path, enable ? "1" : "0", *error);
        },
        [error, done = std::move(done)] { done(*error); });
}

}  // namespace xenrdp::daemon
