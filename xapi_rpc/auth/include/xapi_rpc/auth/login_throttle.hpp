#pragma once

#include <xapi_rpc/auth/authenticator.hpp>

#include <boost/asio/any_io_executor.hpp>

#include <chrono>

namespace xenrdp::xapi_rpc::auth {

/// Delays failed-login answers, as xapi answers SESSION_AUTHENTICATION_FAILED
/// only after 5 s, without holding up anything else: each failure waits on
/// its own steady_timer on the io executor, so other clients (and other
/// logins) proceed meanwhile. Successes are not delayed.
///
/// Threading: call from the io executor; completions run on it. The object
/// keeps no state about pending delays, so it may be destroyed while they
/// run; they still complete (or are dropped with the io_context).
class LoginThrottle {
public:
    /// xapi's delay before reporting bad credentials.
    static constexpr std::chrono::milliseconds xapiFailureDelay{5000};

    LoginThrottle(boost::asio::any_io_executor io,
                  std::chrono::milliseconds failureDelay = xapiFailureDelay);

    /// Hands `result` to `done` on the io executor: posted at once when
    /// result.ok, after the failure delay otherwise. Never blocks, never
    /// invokes `done` inline.
    void deliver(AuthResult result, AuthDone done) const;

    /// A completion that routes its result through deliver(); pass it to
    /// Authenticator::authenticate.
    [[nodiscard]] AuthDone wrap(AuthDone done) const;

    [[nodiscard]] std::chrono::milliseconds failureDelay() const noexcept { return delay_; }
    /// Applies to failures delivered from now on (SIGHUP); delays already
    /// running keep theirs.
    void setFailureDelay(std::chrono::milliseconds delay) noexcept { delay_ = delay; }

private:
    boost::asio::any_io_executor io_;
    std::chrono::milliseconds delay_;
};

}  // namespace xenrdp::xapi_rpc::auth
