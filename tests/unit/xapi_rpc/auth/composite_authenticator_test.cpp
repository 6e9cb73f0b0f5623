#include <xapi_rpc/auth/composite_authenticator.hpp>

#include "fake_authenticator.hpp"
#include "test_support.hpp"

#include <boost/asio/io_context.hpp>

#include <catch2/catch.hpp>

using namespace xenrdp::xapi_rpc::auth;
using namespace xenrdp::xapi_rpc::auth::test;

namespace {

Outcome login(boost::asio::io_context& ioc, Authenticator& auth, const std::string& user,
              const std::string& password)
{
    Outcome outcome;
    auth.authenticate(user, password, outcome.callback());
    REQUIRE(runUntil(ioc, [&outcome] { return outcome.done(); }));
    return outcome;
}

}  // namespace

TEST_CASE("The first backend that accepts decides the role", "[auth][composite]")
{
    boost::asio::io_context ioc;
    FakeAuthenticator file(ioc.get_executor(), "file says no");
    FakeAuthenticator pam(ioc.get_executor(), "pam says no");
    file.add("alice", "a", Role::VmAdmin);
    pam.add("alice", "a", Role::ReadOnly);
    pam.add("bob", "b", Role::VmOperator);
    CompositeAuthenticator chain(ioc.get_executor(), {file, pam});

    const Outcome alice = login(ioc, chain, "alice", "a");
    CHECK(alice.result->role == Role::VmAdmin);
    CHECK(pam.asked.empty());  // the users file answered; PAM was not consulted

    const Outcome bob = login(ioc, chain, "bob", "b");
    CHECK(bob.result->ok);
    CHECK(bob.result->role == Role::VmOperator);
}

TEST_CASE("When every backend refuses, the last backend's failure is reported",
          "[auth][composite]")
{
    boost::asio::io_context ioc;
    FakeAuthenticator file(ioc.get_executor(), "file says no");
    FakeAuthenticator pam(ioc.get_executor(), "pam says no");
    CompositeAuthenticator chain(ioc.get_executor(), {file, pam});
    const Outcome outcome = login(ioc, chain, "eve", "x");
    CHECK_FALSE(outcome.result->ok);
    CHECK(outcome.result->message == "pam says no");
    CHECK(file.asked == std::vector<std::string>{"eve"});
    CHECK(pam.asked == std::vector<std::string>{"eve"});
}

TEST_CASE("A chain without backends refuses every login, asynchronously", "[auth][composite]")
{
    boost::asio::io_context ioc;
    CompositeAuthenticator chain(ioc.get_executor(), {});
    Outcome outcome;
    chain.authenticate("root", "pw", outcome.callback());
    CHECK_FALSE(outcome.done());
    REQUIRE(runUntil(ioc, [&outcome] { return outcome.done(); }));
    CHECK_FALSE(outcome.result->ok);
}
