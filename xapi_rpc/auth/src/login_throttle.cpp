#include <xapi_rpc/auth/login_throttle.hpp>

#include "blocking_runner.hpp"

#include <boost/asio/steady_timer.hpp>

#include <memory>
#include <utility>

namespace xenrdp::xapi_rpc::auth {
namespace {

void deliverWith(const boost::asio::any_io_executor& io, std::chrono::milliseconds delay,
                 AuthResult result, AuthDone done)
{
    if (result.ok || delay <= std::chrono::milliseconds::zero()) {
        boost::asio::post(io, [done = std::move(done), result = std::move(result)]() mutable {
            detail::invokeDone(done, std::move(result));
        });
        return;
    }
    // The handler owns its timer; nothing else needs to track the delay.
    auto timer = std::make_shared<boost::asio::steady_timer>(io, delay);
    timer->async_wait([timer, done = std::move(done),
                       result = std::move(result)](const boost::system::error_code&) mutable {
        // Cancelled or expired, the client still gets its failure answer.
        detail::invokeDone(done, std::move(result));
    });
}

}  // namespace

LoginThrottle::LoginThrottle(boost::asio::any_io_executor io,
                             std::chrono::milliseconds failureDelay)
    : io_(std::move(io)), delay_(failureDelay)
{
}

void LoginThrottle::deliver(AuthResult result, AuthDone done) const
{
    deliverWith(io_, delay_, std::move(result), std::move(done));
}

AuthDone LoginThrottle::wrap(AuthDone done) const
{
    // Captures copies, not `this`, so the throttle may go away first.
    return [io = io_, delay = delay_, done = std::move(done)](AuthResult result) mutable {
        deliverWith(io, delay, std::move(result), std::move(done));
    };
}

}  // namespace xenrdp::xapi_rpc::auth
