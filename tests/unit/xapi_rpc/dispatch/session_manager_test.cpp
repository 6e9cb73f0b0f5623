#include <catch2/catch.hpp>

#include <chrono>
#include <regex>
#include <string>
#include <vector>

#include <xapi_rpc/dispatch/session_manager.hpp>

using xenrdp::xapi_rpc::auth::Role;
using xenrdp::xapi_rpc::dispatch::Session;
using xenrdp::xapi_rpc::dispatch::SessionLimits;
using xenrdp::xapi_rpc::dispatch::SessionManager;

namespace {

struct FakeClock {
    SessionManager::Clock::time_point now{};
    std::function<SessionManager::Clock::time_point()> fn()
    {
        return [this] { return now; };
    }
};

}  // namespace

TEST_CASE("A new session has an OpaqueRef with a random lowercase uuid", "[dispatch][session]")
{
    SessionManager sm;
    const Session& a = sm.create("root", Role::PoolAdmin, true, "test");
    const std::string refA = a.ref;
    const Session& b = sm.create("root", Role::PoolAdmin, true, "test");
    const std::regex form("OpaqueRef:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
    CHECK(std::regex_match(refA, form));
    CHECK(std::regex_match(b.ref, form));
    CHECK(refA != b.ref);
}

TEST_CASE("A session unused for longer than the idle timeout is gone", "[dispatch][session]")
{
    FakeClock clock;
    SessionManager sm(SessionLimits{std::chrono::seconds(60), 10}, clock.fn());
    std::vector<std::string> removed;
    sm.onRemoved([&removed](const std::string& ref) { removed.push_back(ref); });
    const std::string ref = sm.create("u", Role::ReadOnly, false, "").ref;
    clock.now += std::chrono::seconds(59);
    REQUIRE(sm.use(ref) != nullptr);  // use refreshes the idle clock
    clock.now += std::chrono::seconds(59);
    REQUIRE(sm.use(ref) != nullptr);
    clock.now += std::chrono::seconds(60);
    CHECK(sm.use(ref) == nullptr);
    CHECK(removed == std::vector<std::string>{ref});
    CHECK(sm.size() == 0);
}

TEST_CASE("A login at the session cap evicts the least recently used session", "[dispatch][session]")
{
    FakeClock clock;
    SessionManager sm(SessionLimits{std::chrono::hours(1), 2}, clock.fn());
    const std::string first = sm.create("a", Role::ReadOnly, false, "").ref;
    clock.now += std::chrono::seconds(1);
    const std::string second = sm.create("b", Role::ReadOnly, false, "").ref;
    clock.now += std::chrono::seconds(1);
    REQUIRE(sm.use(first) != nullptr);  // now `second` is the least recently used
    const std::string third = sm.create("c", Role::ReadOnly, false, "").ref;
    CHECK(sm.size() == 2);
    CHECK(sm.peek(first) != nullptr);
    CHECK(sm.peek(second) == nullptr);
    CHECK(sm.peek(third) != nullptr);
}

TEST_CASE("Logout destroys a session once and reports it to the listener", "[dispatch][session]")
{
    SessionManager sm;
    int removed = 0;
    sm.onRemoved([&removed](const std::string&) { ++removed; });
    const std::string ref = sm.create("u", Role::ReadOnly, false, "").ref;
    CHECK(sm.destroy(ref));
    CHECK_FALSE(sm.destroy(ref));
    CHECK(sm.use(ref) == nullptr);
    CHECK(removed == 1);
}
