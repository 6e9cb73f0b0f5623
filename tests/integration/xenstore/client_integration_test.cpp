// Client against a real xenstored.
#include <xenstore/client.hpp>

#include <cerrno>

#include <catch2/catch.hpp>

#include <sandbox.hpp>

using namespace xenrdp::xenstore;
using xenrdp::sandbox::XenstoredSandbox;

TEST_CASE("Client reads a missing node from xenstored as nullopt", "[xenstore][integration]")
{
    XenstoredSandbox sandbox;
    Client c = Client::open(sandbox.socketPath());
    std::error_code ec;
    CHECK_FALSE(c.read("/local/domain/42/name", ec).has_value());
    CHECK_FALSE(ec);
}

TEST_CASE("Client writes and lists nodes in xenstored", "[xenstore][integration]")
{
    XenstoredSandbox sandbox;
    Client c = Client::open(sandbox.socketPath());
    c.write("/local/domain/0/data/a", "1");
    c.write("/local/domain/0/data/b", "2");
    auto names = c.directory("/local/domain/0/data");
    REQUIRE(names.has_value());
    CHECK(std::find(names->begin(), names->end(), "a") != names->end());
    CHECK(std::find(names->begin(), names->end(), "b") != names->end());
    CHECK(sandbox.read("/local/domain/0/data/b") == std::optional<std::string>("2"));
}

TEST_CASE("Client commits a transaction in xenstored", "[xenstore][integration]")
{
    XenstoredSandbox sandbox;
    Client c = Client::open(sandbox.socketPath());
    std::error_code ec;
    c.withTransaction(
        [](Transaction& t, std::error_code& tec) {
            t.write("/vm/x/a", "1", tec);
            if (!tec)
                t.write("/vm/x/b", "2", tec);
        },
        ec);
    REQUIRE_FALSE(ec);
    CHECK(sandbox.read("/vm/x/a") == std::optional<std::string>("1"));
    CHECK(sandbox.read("/vm/x/b") == std::optional<std::string>("2"));
}

TEST_CASE("Client marks itself lost when xenstored dies", "[xenstore][integration]")
{
    XenstoredSandbox sandbox;
    Client c = Client::open(sandbox.socketPath());
    REQUIRE(c.read("/local/domain/0/name").has_value());
    sandbox.kill();
    std::error_code ec;
    c.ping(ec);
    CHECK(ec);
    CHECK(c.lost());
}
