#include <xapi_rpc/auth/users_file.hpp>

#include "test_support.hpp"

#include <catch2/catch.hpp>

using namespace xenrdp::xapi_rpc::auth;
using xenrdp::xapi_rpc::auth::test::makeHash;
using xenrdp::xapi_rpc::auth::test::TempFile;

namespace {

// Parses `text` as file "users.conf" and returns the error (empty on success).
std::string errorOf(const std::string& text)
{
    std::string error;
    const auto table = parseUsersFile(text, "users.conf", error);
    if (table) {
        return {};
    }
    CHECK_FALSE(error.empty());
    return error;
}

}  // namespace

TEST_CASE("A well-formed users file yields every account with its role and hash",
          "[auth][users-file]")
{
    const std::string admin = makeHash("s3cret");
    const std::string viewer = makeHash("view", "$y$");
    const std::string text = "# xenrdpd users\n"
                             "\n"
                             "admin:pool-admin:" + admin + "\r\n"
                             "   # indented comment\n"
                             "  viewer:read-only:" + viewer + "  \n"
                             "\t\n";
    std::string error;
    const auto table = parseUsersFile(text, "users.conf", error);
    REQUIRE(table.has_value());
    CHECK(error.empty());
    REQUIRE(table->size() == 2);
    CHECK(table->at("admin").role == Role::PoolAdmin);
    CHECK(table->at("admin").hash == admin);
    CHECK(table->at("viewer").role == Role::ReadOnly);
    CHECK(table->at("viewer").hash == viewer);
}

TEST_CASE("An empty users file is valid and has no accounts", "[auth][users-file]")
{
    std::string error;
    const auto table = parseUsersFile("# nobody yet\n", "users.conf", error);
    REQUIRE(table.has_value());
    CHECK(table->empty());
}

TEST_CASE("Each malformed line is rejected with its file and line number", "[auth][users-file]")
{
    const std::string hash = makeHash("pw");
    const std::string good = "ok:vm-admin:" + hash + "\n";
    SECTION("too few fields")
    {
        CHECK(errorOf(good + "# c\njustaname\n") ==
              "users.conf:3: expected 'name:role:hash' (3 fields separated by ':'), found 1 field");
    }
    SECTION("too many fields")
    {
        CHECK(errorOf(good + "a:vm-admin:" + hash + ":extra\n") ==
              "users.conf:2: expected 'name:role:hash' (3 fields separated by ':'), found 4 fields");
    }
    SECTION("empty user name")
    {
        CHECK(errorOf(good + ":vm-admin:" + hash + "\n") == "users.conf:2: empty user name");
    }
    SECTION("user name with a blank")
    {
        CHECK(errorOf("a b:vm-admin:" + hash + "\n") ==
              "users.conf:1: user name 'a b' contains whitespace or control characters");
    }
    SECTION("empty hash")
    {
        CHECK(errorOf(good + "a:vm-admin:\n") == "users.conf:2: empty password hash");
    }
    SECTION("truncated SHA-512 checksum")
    {
        const std::string error = errorOf("a:vm-admin:" + hash.substr(0, hash.size() - 5) + "\n");
        CHECK_THAT(error, Catch::StartsWith("users.conf:1: malformed SHA-512 hash"));
    }
    SECTION("salt with characters crypt rejects")
    {
        const std::string error = errorOf("a:vm-admin:$6$bad salt!$" + std::string(86, 'a') + "\n");
        CHECK_THAT(error, Catch::StartsWith("users.conf:1: malformed SHA-512 hash"));
    }
}

TEST_CASE("An unknown role is rejected naming it and the valid roles", "[auth][users-file]")
{
    CHECK(errorOf("bob:superuser:" + makeHash("pw") + "\n") ==
          "users.conf:1: unknown role 'superuser' (expected one of read-only, vm-operator, "
          "vm-admin, vm-power-admin, pool-operator, pool-admin)");
}

TEST_CASE("Hash schemes other than SHA-512, SHA-256 and yescrypt are rejected at load",
          "[auth][users-file]")
{
    const auto check = [](const std::string& hash, const std::string& scheme) {
        const std::string error = errorOf("bob:read-only:" + hash + "\n");
        INFO(error);
        CHECK_THAT(error, Catch::StartsWith("users.conf:1: unsupported " + scheme));
        CHECK_THAT(error, Catch::Contains("only SHA-512 ($6$)"));
    };
    SECTION("MD5") { check("$1$saltsalt$qjXMvbEw8oaL.CzflDugX/", "hash scheme '$1$'"); }
    SECTION("bcrypt") { check(makeHash("pw", "$2b$"), "hash scheme '$2b$'"); }
    SECTION("traditional DES") { check("abJnggxhB/yWI", "a hash without a '$id$' prefix"); }
    SECTION("plain text password") { check("hunter2", "a hash without a '$id$' prefix"); }
}

TEST_CASE("SHA-256 and yescrypt hashes are accepted", "[auth][users-file]")
{
    std::string error;
    const auto table = parseUsersFile("a:read-only:" + makeHash("pw", "$5$") + "\nb:read-only:" +
                                          makeHash("pw", "$y$") + "\n",
                                      "users.conf", error);
    INFO(error);
    CHECK(table.has_value());
}

TEST_CASE("A duplicate user is rejected with both line numbers", "[auth][users-file]")
{
    const std::string hash = makeHash("pw");
    CHECK(errorOf("bob:read-only:" + hash + "\n\nbob:pool-admin:" + hash + "\n") ==
          "users.conf:3: duplicate user 'bob' (first defined at line 1)");
}

TEST_CASE("An error message never repeats the password hash", "[auth][users-file]")
{
    const std::string hash = makeHash("pw");
    const std::string checksum = hash.substr(hash.rfind('$') + 1);
    for (const std::string& line : {"a:nope:" + hash, "a:vm-admin:" + hash + "x",
                                    "a:vm-admin:$1$" + checksum}) {
        const std::string error = errorOf(line + "\n");
        INFO(error);
        CHECK_FALSE(error.empty());
        CHECK(error.find(checksum) == std::string::npos);
    }
}

TEST_CASE("Loading a missing users file reports its path", "[auth][users-file]")
{
    std::string error;
    const auto table = loadUsersFile("/nonexistent/xenrdpd/users", error);
    CHECK_FALSE(table.has_value());
    CHECK_THAT(error, Catch::StartsWith("/nonexistent/xenrdpd/users: cannot read users file"));
}

TEST_CASE("Loading a users file names the file in line errors", "[auth][users-file]")
{
    const TempFile file("broken line\n");
    std::string error;
    CHECK_FALSE(loadUsersFile(file.path(), error).has_value());
    CHECK_THAT(error, Catch::StartsWith(file.path().string() + ":1: expected"));
}
