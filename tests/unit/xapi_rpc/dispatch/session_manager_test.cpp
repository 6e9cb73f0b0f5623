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
    SessionManager sm(SessionLimits{std::chrono::seconds(60), 10, 10}, clock.fn());
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
    SessionManager sm(SessionLimits{std::chrono::hours(1), 2, 2}, clock.fn());
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

TEST_CASE("A user at the per-user cap evicts only their own least recently used session", "[dispatch][session]")
{
    FakeClock clock;
    SessionManager sm(SessionLimits{std::chrono::hours(1), 100, 2}, clock.fn());
    const std::string admin = sm.create("admin", Role::PoolAdmin, true, "XenCenter").ref;
    std::vector<std::string> reader;
    for (int i = 0; i < 5; ++i) {
        clock.now += std::chrono::seconds(1);
        reader.push_back(sm.create("reader", Role::ReadOnly, false, "").ref);
    }
    CHECK(sm.size() == 3);
    CHECK(sm.peek(admin) != nullptr);
    CHECK(sm.peek(reader[2]) == nullptr);
    CHECK(sm.peek(reader[3]) != nullptr);
    CHECK(sm.peek(reader[4]) != nullptr);
    CHECK(sm.peek(reader[4])->group == "user:reader");
}

TEST_CASE("At the overall cap a login evicts from the largest group, never a smaller one", "[dispatch][session]")
{
    FakeClock clock;
    SessionManager sm(SessionLimits{std::chrono::hours(1), 4, 3}, clock.fn());
    const std::string admin = sm.create("admin", Role::PoolAdmin, true, "").ref;
    clock.now += std::chrono::seconds(1);
    const std::string xencenter = sm.create("root", Role::PoolAdmin, true, "XenCenter 2023.4.0").ref;
    // A read-only account logging in over and over, long after the others'
    // last use: it only ever evicts its own sessions.
    for (int i = 0; i < 10; ++i) {
        clock.now += std::chrono::seconds(1);
        sm.create("reader", Role::ReadOnly, false, "").ref;
        CHECK(sm.peek(admin) != nullptr);
        CHECK(sm.peek(xencenter) != nullptr);
        CHECK(sm.size() <= 4);
    }
    // The admin's next login finds the cap: the reader, holding the most, pays.
    clock.now += std::chrono::seconds(1);
    const std::string admin2 = sm.create("admin", Role::PoolAdmin, true, "").ref;
    CHECK(sm.size() == 4);
    for (const auto& ref : {admin, admin2, xencenter}) CHECK(sm.peek(ref) != nullptr);
}

TEST_CASE("Root's sessions are grouped by originator, as xapi groups them", "[dispatch][session]")
{
    FakeClock clock;
    SessionManager sm(SessionLimits{std::chrono::hours(1), 100, 1}, clock.fn());
    const std::string xe = sm.create("root", Role::PoolAdmin, true, "xe").ref;
    clock.now += std::chrono::seconds(1);
    const std::string xc1 = sm.create("root", Role::PoolAdmin, true, "XenCenter").ref;
    clock.now += std::chrono::seconds(1);
    const std::string xc2 = sm.create("", Role::PoolAdmin, true, "XenCenter").ref;  // "" counts as root
    CHECK(sm.peek(xe) != nullptr);
    CHECK(sm.peek(xc1) == nullptr);
    REQUIRE(sm.peek(xc2) != nullptr);
    CHECK(sm.peek(xc2)->group == "originator:XenCenter");
    // Another user's originator does not matter: one group per name.
    const std::string a = sm.create("alice", Role::VmOperator, false, "one").ref;
    const std::string b = sm.create("alice", Role::VmOperator, false, "two").ref;
    CHECK(sm.peek(a) == nullptr);
    CHECK(sm.peek(b) != nullptr);
}

TEST_CASE("Among equally large groups the least recently used session goes", "[dispatch][session]")
{
    FakeClock clock;
    SessionManager sm(SessionLimits{std::chrono::hours(1), 3, 5}, clock.fn());
    const std::string a = sm.create("a", Role::ReadOnly, false, "").ref;
    clock.now += std::chrono::seconds(1);
    const std::string b1 = sm.create("b", Role::ReadOnly, false, "").ref;
    clock.now += std::chrono::seconds(1);
    const std::string b2 = sm.create("b", Role::ReadOnly, false, "").ref;
    clock.now += std::chrono::seconds(1);
    // b is the largest group: its least recently used session goes, though a's is older.
    const std::string c = sm.create("c", Role::ReadOnly, false, "").ref;
    CHECK(sm.peek(a) != nullptr);
    CHECK(sm.peek(b1) == nullptr);
    CHECK(sm.peek(b2) != nullptr);
    // Now a, b and c hold one each: the least recently used of all goes.
    clock.now += std::chrono::seconds(1);
    REQUIRE(sm.use(a) != nullptr);
    const std::string d = sm.create("d", Role::ReadOnly, false, "").ref;
    CHECK(sm.peek(a) != nullptr);
    CHECK(sm.peek(b2) == nullptr);
    CHECK(sm.peek(c) != nullptr);
    CHECK(sm.peek(d) != nullptr);
}

TEST_CASE("The per-user cap is at most the overall cap and at least 1", "[dispatch][session]")
{
    SessionManager sm(SessionLimits{std::chrono::hours(1), 2, 0});
    const std::string a = sm.create("u", Role::ReadOnly, false, "").ref;
    const std::string b = sm.create("u", Role::ReadOnly, false, "").ref;
    CHECK(sm.peek(a) == nullptr);  // a per-user cap of 0 means 1
    CHECK(sm.peek(b) != nullptr);
}
