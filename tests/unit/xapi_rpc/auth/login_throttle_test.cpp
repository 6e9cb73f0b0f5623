#include <xapi_rpc/auth/login_throttle.hpp>

#include "fake_authenticator.hpp"
#include "test_support.hpp"

#include <boost/asio/io_context.hpp>

#include <catch2/catch.hpp>

using namespace xenrdp::xapi_rpc::auth;
using namespace xenrdp::xapi_rpc::auth::test;
using namespace std::chrono_literals;

TEST_CASE("The throttle defaults to xapi's 5 second failure delay", "[auth][throttle]")
{
    boost::asio::io_context ioc;
    CHECK(LoginThrottle(ioc.get_executor()).failureDelay() == 5000ms);
}

TEST_CASE("A failed login is answered only after the failure delay", "[auth][throttle]")
{
    boost::asio::io_context ioc;
    const LoginThrottle throttle(ioc.get_executor(), 100ms);
    Outcome failure;
    const auto start = std::chrono::steady_clock::now();
    throttle.deliver(AuthResult{false, Role::ReadOnly, "Authentication failure"},
                     failure.callback());
    REQUIRE(runUntil(ioc, [&failure] { return failure.done(); }));
    CHECK(failure.at - start >= 100ms);
    CHECK(failure.result->message == "Authentication failure");
}

TEST_CASE("A success completes while an earlier failure is still delayed", "[auth][throttle]")
{
    boost::asio::io_context ioc;
    const LoginThrottle throttle(ioc.get_executor(), 150ms);
    Outcome failure;
    Outcome success;
    const auto start = std::chrono::steady_clock::now();
    throttle.deliver(AuthResult{false, Role::ReadOnly, "no"}, failure.callback());
    throttle.deliver(AuthResult{true, Role::PoolAdmin, {}}, success.callback());
    REQUIRE(runUntil(ioc, [&success] { return success.done(); }));
    CHECK_FALSE(failure.done());
    REQUIRE(runUntil(ioc, [&failure] { return failure.done(); }));
    CHECK(success.at < failure.at);
    CHECK(failure.at - start >= 150ms);
    CHECK(success.result->role == Role::PoolAdmin);
}

TEST_CASE("A wrapped completion delays an authenticator's failure but not its success",
          "[auth][throttle]")
{
    boost::asio::io_context ioc;
    FakeAuthenticator backend(ioc.get_executor(), "Authentication failure");
    backend.add("root", "pw", Role::PoolAdmin);
    const LoginThrottle throttle(ioc.get_executor(), 150ms);
    Outcome bad;
    Outcome good;
    const auto start = std::chrono::steady_clock::now();
    backend.authenticate("root", "guess", throttle.wrap(bad.callback()));
    backend.authenticate("root", "pw", throttle.wrap(good.callback()));
    REQUIRE(runUntil(ioc, [&bad, &good] { return bad.done() && good.done(); }));
    CHECK(good.at < bad.at);
    CHECK(bad.at - start >= 150ms);
    CHECK(good.result->ok);
    CHECK_FALSE(bad.result->ok);
}
