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
    std::string domain = "/local/domain/" + std::to_string(domid);
    xs_.post(
        [domain = std::move(domain), enable, error](xenstore::Client& client) {
            // The domain may have died since its VM record was read.  A plain
            // write would then create /local/domain/<domid>/control/ts (and
            // its parents) for a dead domain, a dom0-owned leftover that a
            // later domain given the same domid inherits.  So check and write
            // in one transaction.
            client.withTransaction(
                [&domain, enable](xenstore::Transaction& t, std::error_code& ec) {
                    if (!t.read(domain + "/control", ec)) {
                        if (!ec)
                            ec = std::make_error_code(std::errc::no_such_file_or_directory);
                        return;
                    }
                    t.write(domain + "/control/ts", enable ? "1" : "0", ec);
                },
                *error);
        },
        [error, done = std::move(done)] { done(*error); });
}

}  // namespace xenrdp::daemon
