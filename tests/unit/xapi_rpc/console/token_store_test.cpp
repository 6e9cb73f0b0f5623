#include <catch2/catch.hpp>

#include <regex>

#include <xapi_rpc/console/token_store.hpp>

using namespace xenrdp::xapi_rpc::console;
using namespace std::chrono_literals;

namespace {
struct FakeClock {
    ConsoleTokenStore::Clock::time_point now{};
    std::function<ConsoleTokenStore::Clock::time_point()> fn()
    {
        return [self = this] { return self->now; };
    }
};
TokenTarget target(const std::string& vmRef, std::int64_t domid)
{
    return TokenTarget{vmRef, "uuid-" + vmRef, domid, "192.0.2.1", 3389};
}
}  // namespace

TEST_CASE("Tokens are random UUID4s stored only as their SHA-256", "[console][unit]")
{
    CHECK(ConsoleTokenStore::hashToken("abc") ==
          "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    ConsoleTokenStore store(10s);
    const std::string token = store.issue(target("vm1", 3));
    CHECK(std::regex_match(token, std::regex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")));
    CHECK(store.issue(target("vm1", 3)) != token);
    CHECK(store.holdsHash(ConsoleTokenStore::hashToken(token)));
    CHECK_FALSE(store.holdsHash(token));
    CHECK_FALSE(store.lookup(ConsoleTokenStore::hashToken(token)));
    auto found = store.lookup(token);
    REQUIRE(found);
    CHECK(found->vmRef == "vm1");
    CHECK(found->host == "192.0.2.1");
}

TEST_CASE("A token resolves repeatedly until its TTL, then never", "[console][unit]")
{
    FakeClock clock;
    ConsoleTokenStore store(2s, clock.fn());
    const std::string token = store.issue(target("vm1", 3));
    CHECK(store.lookup(token));
    clock.now += 1999ms;
    CHECK(store.lookup(token));
    clock.now += 1ms;
    CHECK_FALSE(store.lookup(token));
    CHECK(store.size() == 1);
    CHECK(store.liveCount() == 0);
    CHECK(store.sweep() == 1);
    CHECK(store.size() == 0);
}

TEST_CASE("Sweeping removes only expired tokens", "[console][unit]")
{
    FakeClock clock;
    ConsoleTokenStore store(2s, clock.fn());
    const std::string old = store.issue(target("vm1", 3));
    clock.now += 1s;
    const std::string fresh = store.issue(target("vm1", 3));
    clock.now += 1s;
    CHECK(store.sweep() == 1);
    CHECK_FALSE(store.lookup(old));
    CHECK(store.lookup(fresh));
}

TEST_CASE("A halted VM loses all its tokens, a rebooted one those of its old domain", "[console][unit]")
{
    ConsoleTokenStore store(60s);
    const std::string a = store.issue(target("vm1", 3));
    const std::string b = store.issue(target("vm1", 7));
    const std::string other = store.issue(target("vm2", 4));
    CHECK(store.dropVm("vm1", 7) == 1);
    CHECK_FALSE(store.lookup(a));
    CHECK(store.lookup(b));
    CHECK(store.dropVm("vm1") == 1);
    CHECK_FALSE(store.lookup(b));
    CHECK(store.lookup(other));
}

TEST_CASE("The live count leaves out expired tokens not yet swept", "[console][unit]")
{
    FakeClock clock;
    ConsoleTokenStore store(2s, clock.fn());
    CHECK(store.liveCount() == 0);
    (void)store.issue(target("vm1", 3));
    clock.now += 1s;
    (void)store.issue(target("vm2", 4));
    CHECK(store.liveCount() == 2);
    clock.now += 1s;
    CHECK(store.liveCount() == 1);
    CHECK(store.size() == 2);
    clock.now += 1s;
    CHECK(store.liveCount() == 0);
}
