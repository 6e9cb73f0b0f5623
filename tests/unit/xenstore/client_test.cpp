#include <xenstore/client.hpp>

#include <cerrno>

#include <catch2/catch.hpp>

#include "../../support/fake_xs_api.hpp"

using namespace xenrdp::xenstore;
using xenrdp::test::FakeXsStore;

namespace {

struct Fixture {
    std::shared_ptr<FakeXsStore> store = std::make_shared<FakeXsStore>();
    Client client{store->open()};
};

}  // namespace

TEST_CASE_METHOD(Fixture, "Client reads back a value it wrote", "[xenstore][unit]")
{
    std::error_code ec;
    client.write("/local/domain/3/control/ts", "1", ec);
    REQUIRE_FALSE(ec);
    auto v = client.read("/local/domain/3/control/ts", ec);
    REQUIRE_FALSE(ec);
    REQUIRE(v.has_value());
    CHECK(*v == "1");
}

TEST_CASE_METHOD(Fixture, "Client read of a missing node is nullopt without error",
                 "[xenstore][unit]")
{
    std::error_code ec = errnoCode(EIO);
    auto v = client.read("/local/domain/9/name", ec);
    CHECK_FALSE(v.has_value());
    CHECK_FALSE(ec);
    CHECK_NOTHROW(client.read("/local/domain/9/name"));
}

TEST_CASE_METHOD(Fixture, "Client directory lists the children of a node", "[xenstore][unit]")
{
    client.write("/local/domain/1/name", "a");
    client.write("/local/domain/2/name", "b");
    client.write("/local/domain/2/data/ts", "1");
    auto v = client.directory("/local/domain");
    REQUIRE(v.has_value());
    CHECK(*v == std::vector<std::string>{"1", "2"});
}

TEST_CASE_METHOD(Fixture, "Client directory of a missing node is nullopt without error",
                 "[xenstore][unit]")
{
    std::error_code ec;
    auto v = client.directory("/nowhere", ec);
    CHECK_FALSE(v.has_value());
    CHECK_FALSE(ec);
}

TEST_CASE_METHOD(Fixture, "Client removing a missing node is not an error", "[xenstore][unit]")
{
    std::error_code ec;
    client.remove("/nowhere", ec);
    CHECK_FALSE(ec);
}

TEST_CASE_METHOD(Fixture, "Client maps a failed request's errno into the xenstore category",
                 "[xenstore][unit]")
{
    store->failNextRequest(EACCES);
    std::error_code ec;
    client.write("/local/domain/1/name", "x", ec);
    CHECK(std::string(ec.category().name()) == "xenstore");
    CHECK(ec.value() == EACCES);
    CHECK_FALSE(client.lost());
}

TEST_CASE_METHOD(Fixture, "Client throwing overload throws system_error with the code",
                 "[xenstore][unit]")
{
    store->failNextRequest(EACCES);
    try {
        client.read("/local");
        FAIL("no exception");
    } catch (const std::system_error& e) {
        CHECK(e.code() == errnoCode(EACCES));
    }
}

TEST_CASE_METHOD(Fixture, "Client marks itself lost when the connection is reset",
                 "[xenstore][unit]")
{
    store->failNextRequest(ECONNRESET);
    std::error_code ec;
    client.read("/local", ec);
    CHECK(ec.value() == ECONNRESET);
    CHECK(client.lost());
}

TEST_CASE("A default-constructed Client reports notConnected", "[xenstore][unit]")
{
    Client c;
    std::error_code ec;
    c.read("/", ec);
    CHECK(ec == XsErrc::notConnected);
    CHECK(c.lost());
}

TEST_CASE_METHOD(Fixture, "Client withTransaction retries on EAGAIN then commits",
                 "[xenstore][unit]")
{
    store->conflictCommits(2);
    int runs = 0;
    std::error_code ec;
    client.withTransaction(
        [&runs](Transaction& t, std::error_code& tec) {
            ++runs;
            t.write("/vm/u/counter", std::to_string(runs), tec);
        },
        ec);
    CHECK_FALSE(ec);
    CHECK(runs == 3);
    CHECK(store->transactionsStarted() == 3);
    CHECK(client.read("/vm/u/counter") == std::optional<std::string>("3"));
}

TEST_CASE_METHOD(Fixture, "Client withTransaction gives up after maxRetries conflicts",
                 "[xenstore][unit]")
{
    store->conflictCommits(100);
    int runs = 0;
    std::error_code ec;
    client.withTransaction([&runs](Transaction&, std::error_code&) { ++runs; }, ec, 3);
    CHECK(ec == XsErrc::retriesExhausted);
    CHECK(runs == 4);
}

TEST_CASE_METHOD(Fixture, "Client withTransaction stops on an error from the function",
                 "[xenstore][unit]")
{
    int runs = 0;
    std::error_code ec;
    client.withTransaction(
        [&runs](Transaction&, std::error_code& tec) {
            ++runs;
            tec = errnoCode(EPERM);
        },
        ec);
    CHECK(ec == errnoCode(EPERM));
    CHECK(runs == 1);
}
