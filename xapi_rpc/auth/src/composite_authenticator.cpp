#include <xapi_rpc/auth/composite_authenticator.hpp>

#include "blocking_runner.hpp"
#include "secret.hpp"

#include <boost/asio/post.hpp>

#include <memory>
#include <utility>

namespace xenrdp::xapi_rpc::auth {
namespace {

// One login attempt walking the chain. Shared because AuthDone is copyable.
struct Attempt {
    std::vector<std::reference_wrapper<Authenticator>> backends;
    std::string user;
    detail::Secret password;
    AuthDone done;
    std::size_t next = 0;
};

void tryNext(const std::shared_ptr<Attempt>& attempt)
{
    Authenticator& backend = attempt->backends[attempt->next++].get();
    // A prvalue copy becomes the parameter itself, which the backend wipes.
    backend.authenticate(attempt->user, std::string(attempt->password.value()),
                         [attempt](AuthResult result) {
                             if (result.ok || attempt->next == attempt->backends.size()) {
                                 detail::invokeDone(attempt->done, std::move(result));
                                 return;
                             }
                             // Already on the io executor (backend contract).
                             tryNext(attempt);
                         });
}

}  // namespace

CompositeAuthenticator::CompositeAuthenticator(
    boost::asio::any_io_executor io, std::vector<std::reference_wrapper<Authenticator>> backends)
    : io_(std::move(io)), backends_(std::move(backends))
{
}

void CompositeAuthenticator::authenticate(std::string user, std::string password, AuthDone done)
{
    if (backends_.empty()) {
        detail::wipe(password);
        boost::asio::post(io_, [done = std::move(done)]() mutable {
            detail::invokeDone(done, AuthResult{false, Role::ReadOnly, "Authentication failure"});
        });
        return;
    }
    auto attempt = std::make_shared<Attempt>(
        Attempt{backends_, std::move(user), detail::Secret(password), std::move(done), 0});
    tryNext(attempt);
}

}  // namespace xenrdp::xapi_rpc::auth
