#include <xapi_rpc/auth/users_file.hpp>

#include "test_support.hpp"

#include <boost/asio/io_context.hpp>

#include <catch2/catch.hpp>

using namespace xenrdp::xapi_rpc::auth;
using namespace xenrdp::xapi_rpc::auth::test;

namespace {

// Runs one login against `auth` and returns its outcome.
Outcome login(boost::asio::io_context& ioc, Authenticator& auth, const std::string& user,
              const std::string& password)
{
    Outcome outcome;
    auth.authenticate(user, password, outcome.callback());
    REQUIRE(runUntil(ioc, [&outcome] { return outcome.done(); }));
    return outcome;
}

}  // namespace

TEST_CASE("The right password logs in with the role from the users file", "[auth][users-file]")
{
    boost::asio::io_context ioc;
    const TempFile file("alice:vm-operator:" + makeHash("correct horse") + "\n");
    UsersFileAuthenticator auth(ioc.get_executor(), file.path());
    const Outcome outcome = login(ioc, auth, "alice", "correct horse");
    CHECK(outcome.result->ok);
    CHECK(outcome.result->role == Role::VmOperator);
    CHECK(outcome.result->message.empty());
}

TEST_CASE("SHA-256 and yescrypt accounts verify like SHA-512 ones", "[auth][users-file]")
{
    boost::asio::io_context ioc;
    const TempFile file("five:vm-admin:" + makeHash("pw5", "$5$") + "\nyes:pool-operator:" +
                        makeHash("pwy", "$y$") + "\n");
    UsersFileAuthenticator auth(ioc.get_executor(), file.path());
    CHECK(login(ioc, auth, "five", "pw5").result->role == Role::VmAdmin);
    CHECK(login(ioc, auth, "yes", "pwy").result->role == Role::PoolOperator);
    CHECK_FALSE(login(ioc, auth, "yes", "pw5").result->ok);
}

TEST_CASE("A wrong password fails with a generic message", "[auth][users-file]")
{
    boost::asio::io_context ioc;
    const TempFile file("alice:pool-admin:" + makeHash("right") + "\n");
    UsersFileAuthenticator auth(ioc.get_executor(), file.path());
    const Outcome outcome = login(ioc, auth, "alice", "wrong");
    CHECK_FALSE(outcome.result->ok);
    CHECK(outcome.result->role == Role::ReadOnly);
    CHECK(outcome.result->message == "Authentication failure");
}

TEST_CASE("An unknown user fails exactly like a wrong password", "[auth][users-file]")
{
    boost::asio::io_context ioc;
    const TempFile file("alice:pool-admin:" + makeHash("right") + "\n");
    UsersFileAuthenticator auth(ioc.get_executor(), file.path());
    const Outcome unknown = login(ioc, auth, "mallory", "right");
    const Outcome wrong = login(ioc, auth, "alice", "wrong");
    CHECK_FALSE(unknown.result->ok);
    CHECK(unknown.result->message == wrong.result->message);
    CHECK(unknown.result->role == wrong.result->role);
}

TEST_CASE("An empty password or one with a NUL never logs in", "[auth][users-file]")
{
    boost::asio::io_context ioc;
    // crypt would accept "" for a hash of "", and see "pw\0x" as "pw".
    const TempFile file("empty:pool-admin:" + makeHash("") + "\nnul:pool-admin:" +
                        makeHash("pw") + "\n");
    UsersFileAuthenticator auth(ioc.get_executor(), file.path());
    CHECK_FALSE(login(ioc, auth, "empty", "").result->ok);
    CHECK_FALSE(login(ioc, auth, "nul", std::string("pw\0x", 4)).result->ok);
    CHECK(login(ioc, auth, "nul", "pw").result->ok);
}

TEST_CASE("The completion runs later on the io executor's thread", "[auth][users-file]")
{
    boost::asio::io_context ioc;
    const TempFile file("alice:pool-admin:" + makeHash("pw") + "\n");
    UsersFileAuthenticator auth(ioc.get_executor(), file.path());
    Outcome outcome;
    auth.authenticate("alice", "pw", outcome.callback());
    CHECK_FALSE(outcome.done());  // never inline
    // The io_context runs on a thread of its own, so the check is not vacuous.
    std::thread::id ioThread;
    std::thread runner([&ioc, &ioThread, &outcome] {
        ioThread = std::this_thread::get_id();
        runUntil(ioc, [&outcome] { return outcome.done(); });
    });
    runner.join();
    REQUIRE(outcome.done());
    CHECK(outcome.thread == ioThread);
    CHECK(outcome.thread != std::this_thread::get_id());
}

TEST_CASE("Constructing from a malformed users file throws naming file and line",
          "[auth][users-file]")
{
    boost::asio::io_context ioc;
    const TempFile file("alice:pool-admin:" + makeHash("pw") + "\nbob:god:x\n");
    CHECK_THROWS_MATCHES(UsersFileAuthenticator(ioc.get_executor(), file.path()), UsersFileError,
                         Catch::Message(file.path().string() +
                                        ":2: unknown role 'god' (expected one of read-only, "
                                        "vm-operator, vm-admin, vm-power-admin, pool-operator, "
                                        "pool-admin)"));
}

TEST_CASE("Reloading picks up changed accounts", "[auth][users-file]")
{
    boost::asio::io_context ioc;
    const TempFile file("alice:pool-admin:" + makeHash("old") + "\n");
    UsersFileAuthenticator auth(ioc.get_executor(), file.path());
    file.write("alice:read-only:" + makeHash("new") + "\nbob:vm-admin:" + makeHash("b") + "\n");
    std::string error;
    REQUIRE(auth.reload(error));
    CHECK(auth.size() == 2);
    CHECK_FALSE(login(ioc, auth, "alice", "old").result->ok);
    const Outcome alice = login(ioc, auth, "alice", "new");
    CHECK(alice.result->ok);
    CHECK(alice.result->role == Role::ReadOnly);
}

TEST_CASE("A failed reload reports the error and keeps the previous accounts",
          "[auth][users-file]")
{
    boost::asio::io_context ioc;
    const TempFile file("alice:pool-admin:" + makeHash("pw") + "\n");
    UsersFileAuthenticator auth(ioc.get_executor(), file.path());
    file.write("alice:pool-admin:$1$abc$def\n");
    std::string error;
    CHECK_FALSE(auth.reload(error));
    CHECK_THAT(error, Catch::StartsWith(file.path().string() + ":1: unsupported hash scheme '$1$'"));
    const Outcome outcome = login(ioc, auth, "alice", "pw");
    CHECK(outcome.result->ok);
    CHECK(outcome.result->role == Role::PoolAdmin);
}
