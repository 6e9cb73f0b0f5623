#pragma once

#include <xapi_rpc/auth/authenticator.hpp>

#include <boost/asio/any_io_executor.hpp>

#include <functional>
#include <vector>

namespace xenrdp::xapi_rpc::auth {

/// Tries several backends in order (typically the users file, then PAM):
/// the first success wins; if all fail, the last backend's failure is
/// reported. A wrong password in an earlier backend does not stop later ones.
///
/// Ownership: does not own the backends; they must outlive every attempt
/// (the composite itself may be destroyed while attempts run). Threading as
/// Authenticator; with no backends every attempt fails.
class CompositeAuthenticator final : public Authenticator {
public:
    CompositeAuthenticator(boost::asio::any_io_executor io,
                           std::vector<std::reference_wrapper<Authenticator>> backends);

    void authenticate(std::string user, std::string password, AuthDone done) override;

private:
    boost::asio::any_io_executor io_;
    std::vector<std::reference_wrapper<Authenticator>> backends_;
};

}  // namespace xenrdp::xapi_rpc::auth
