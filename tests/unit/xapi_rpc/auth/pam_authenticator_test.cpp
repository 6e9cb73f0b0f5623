#include <xapi_rpc/auth/pam_authenticator.hpp>

#include "test_support.hpp"

#include <boost/asio/io_context.hpp>

#include <catch2/catch.hpp>

#include <unistd.h>

using namespace xenrdp::xapi_rpc::auth;
using namespace xenrdp::xapi_rpc::auth::test;

namespace {

int runShell(const std::string& command)
{
    return std::system(command.c_str());  // NOLINT(cert-env33-c): test setup as root
}

/// A real PAM service (/etc/pam.d/xenrdpd-test-<random>, pam_unix only) and a
/// throwaway local user with a known password; both removed on destruction.
/// Needs root, as the daemon does: without it the test fails, it does not skip.
class PamSandbox {
public:
    PamSandbox()
        : service_("xenrdpd-test-" + randomSuffix()),
          serviceFile_("/etc/pam.d/" + service_),
          user_("xrdpt" + randomSuffix()),
          password_("Pw-" + randomSuffix())
    {
        if (::geteuid() != 0) {
            FAIL("PAM tests need root (useradd, chpasswd, /etc/pam.d and pam_unix reading "
                 "/etc/shadow); run the unit tests as root");
        }
        {
            std::ofstream out(serviceFile_);
            out << "auth required pam_unix.so\naccount required pam_unix.so\n";
            REQUIRE(out.good());
        }
        REQUIRE(runShell("useradd --no-create-home --shell /usr/sbin/nologin " + user_ +
                         " >/dev/null 2>&1") == 0);
        userCreated_ = true;
        // The name and password are [a-z0-9-] only: safe unquoted in the shell.
        REQUIRE(runShell("echo '" + user_ + ":" + password_ + "' | chpasswd") == 0);
    }
    PamSandbox(const PamSandbox&) = delete;
    PamSandbox& operator=(const PamSandbox&) = delete;
    ~PamSandbox()
    {
        if (userCreated_) {
            runShell("userdel " + user_ + " >/dev/null 2>&1");
        }
        std::error_code ignored;
        std::filesystem::remove(serviceFile_, ignored);
    }

    [[nodiscard]] PamOptions options(PamRoles roles = {}) const { return {service_, std::move(roles)}; }
    [[nodiscard]] const std::string& user() const { return user_; }
    [[nodiscard]] const std::string& password() const { return password_; }

private:
    std::string service_;
    std::filesystem::path serviceFile_;
    std::string user_;
    std::string password_;
    bool userCreated_ = false;
};

Outcome login(boost::asio::io_context& ioc, Authenticator& auth, const std::string& user,
              const std::string& password)
{
    Outcome outcome;
    auth.authenticate(user, password, outcome.callback());
    REQUIRE(runUntil(ioc, [&outcome] { return outcome.done(); }));
    return outcome;
}

}  // namespace

TEST_CASE("PAM roles map root to pool-admin and anyone else to read-only by default",
          "[auth][pam-roles]")
{
    const PamRoles roles;
    CHECK(roles.roleFor("root") == Role::PoolAdmin);
    CHECK(roles.roleFor("alice") == Role::ReadOnly);
    CHECK(PamOptions{}.service == "xenrdpd");
}

TEST_CASE("PAM accepts a local user's right password with the default role", "[auth][pam]")
{
    const PamSandbox sandbox;
    boost::asio::io_context ioc;
    PamAuthenticator auth(ioc.get_executor(), sandbox.options());
    const Outcome outcome = login(ioc, auth, sandbox.user(), sandbox.password());
    INFO(outcome.result->message);
    CHECK(outcome.result->ok);
    CHECK(outcome.result->role == Role::ReadOnly);
}

TEST_CASE("PAM users get the role mapped to them", "[auth][pam]")
{
    const PamSandbox sandbox;
    boost::asio::io_context ioc;
    PamRoles roles;
    roles.users[sandbox.user()] = Role::VmAdmin;
    PamAuthenticator auth(ioc.get_executor(), sandbox.options(roles));
    CHECK(login(ioc, auth, sandbox.user(), sandbox.password()).result->role == Role::VmAdmin);

    roles.users[sandbox.user()] = Role::PoolOperator;
    auth.setRoles(roles);
    CHECK(login(ioc, auth, sandbox.user(), sandbox.password()).result->role ==
          Role::PoolOperator);
}

TEST_CASE("PAM refuses a wrong password with PAM's message", "[auth][pam]")
{
    const PamSandbox sandbox;
    boost::asio::io_context ioc;
    PamAuthenticator auth(ioc.get_executor(), sandbox.options());
    const Outcome outcome = login(ioc, auth, sandbox.user(), sandbox.password() + "x");
    CHECK_FALSE(outcome.result->ok);
    CHECK(outcome.result->role == Role::ReadOnly);
    CHECK(outcome.result->message == "Authentication failure");
}

TEST_CASE("A wrong PAM password is not held up by pam_unix's own failure delay", "[auth][pam]")
{
    // pam_unix sleeps at least 1.5 s (2 s +-25%) after a failure unless the
    // application takes over PAM_FAIL_DELAY; the throttle does the delaying.
    const PamSandbox sandbox;
    boost::asio::io_context ioc;
    PamAuthenticator auth(ioc.get_executor(), sandbox.options());
    const auto start = std::chrono::steady_clock::now();
    const Outcome outcome = login(ioc, auth, sandbox.user(), "not-" + sandbox.password());
    CHECK_FALSE(outcome.result->ok);
    CHECK(outcome.at - start < std::chrono::milliseconds(1400));
}

TEST_CASE("PAM refuses an unknown user", "[auth][pam]")
{
    const PamSandbox sandbox;
    boost::asio::io_context ioc;
    PamAuthenticator auth(ioc.get_executor(), sandbox.options());
    const Outcome outcome = login(ioc, auth, sandbox.user() + "zz", sandbox.password());
    CHECK_FALSE(outcome.result->ok);
    CHECK_FALSE(outcome.result->message.empty());
}

TEST_CASE("PAM refuses an empty password without asking PAM", "[auth][pam]")
{
    const PamSandbox sandbox;
    boost::asio::io_context ioc;
    PamAuthenticator auth(ioc.get_executor(), sandbox.options());
    const Outcome outcome = login(ioc, auth, sandbox.user(), "");
    CHECK_FALSE(outcome.result->ok);
    CHECK(outcome.result->message == "Authentication failure");
}

TEST_CASE("PAM completions run on the io executor's thread", "[auth][pam]")
{
    const PamSandbox sandbox;
    boost::asio::io_context ioc;
    PamAuthenticator auth(ioc.get_executor(), sandbox.options());
    const Outcome outcome = login(ioc, auth, sandbox.user(), sandbox.password());
    CHECK(outcome.thread == std::this_thread::get_id());
}
