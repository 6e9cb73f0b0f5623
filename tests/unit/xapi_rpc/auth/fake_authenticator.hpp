#pragma once

#include <xapi_rpc/auth/authenticator.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/post.hpp>

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace xenrdp::xapi_rpc::auth::test {

/// An Authenticator with a fixed account table that answers through the io
/// executor, as real backends do; records the users it was asked about.
class FakeAuthenticator final : public Authenticator {
public:
    FakeAuthenticator(boost::asio::any_io_executor io, std::string failure)
        : io_(std::move(io)), failure_(std::move(failure))
    {
    }

    void add(const std::string& user, const std::string& password, Role role)
    {
        accounts_[user] = {password, role};
    }

    void authenticate(std::string user, std::string password, AuthDone done) override
    {
        asked.push_back(user);
        AuthResult result{false, Role::ReadOnly, failure_};
        if (auto found = accounts_.find(user);
            found != accounts_.end() && found->second.first == password) {
            result = AuthResult{true, found->second.second, {}};
        }
        boost::asio::post(io_, [done = std::move(done), result = std::move(result)] {
            done(result);
        });
    }

    std::vector<std::string> asked;

private:
    boost::asio::any_io_executor io_;
    std::string failure_;
    std::map<std::string, std::pair<std::string, Role>> accounts_;
};

}  // namespace xenrdp::xapi_rpc::auth::test
