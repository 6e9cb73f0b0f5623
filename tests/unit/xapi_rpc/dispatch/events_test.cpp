#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <tuple>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include <boost/asio/steady_timer.hpp>

#include "dispatch_test_support.hpp"

using namespace xenrdp;
using namespace xenrdp::xapi_rpc;
using namespace xenrdp::xapi_rpc::dispatch;
using namespace xenrdp::xapi_rpc::dispatch::test;
using Errors = std::vector<std::string>;

namespace {

const Array& eventsOf(const Outcome& o)
{
    static const Array none;
    const Value* e = member(o.result, "events");
    return e != nullptr && e->is<Array>() ? *e->getIf<Array>() : none;
}

std::string tokenOf(const Outcome& o) { return str(member(o.result, "token")); }

/// (class, operation, ref) of each event.
std::vector<std::tuple<std::string, std::string, std::string>> summary(const Array& events)
{
    std::vector<std::tuple<std::string, std::string, std::string>> out;
    for (const auto& e : events) {
        out.emplace_back(str(member(e, "class")), str(member(e, "operation")), str(member(e, "ref")));
    }
    return out;
}

Outcome from(Fixture& f, const std::string& s, Array classes, const std::string& token, double timeout)
{
    return f.call("event.from", {s, std::move(classes), token, timeout});
}

}  // namespace

TEST_CASE("event.from with an empty token lists every object as add", "[dispatch][events]")
{
    Fixture f;
    const std::string s = f.login();
    auto o = from(f, s, {"*"}, "", 30.0);
    REQUIRE(o.success);
    CHECK(keysOf(o.result) == std::vector<std::string>{"events", "valid_ref_counts", "token"});
    const auto& events = eventsOf(o);
    CHECK(events.size() == f.store.count(metrics::ObjectClass::Pool) + f.store.count(metrics::ObjectClass::Host) +
                               f.store.count(metrics::ObjectClass::Vm) +
                               f.store.count(metrics::ObjectClass::GuestMetrics));
    for (const auto& e : events) {
        CHECK(keysOf(e) == std::vector<std::string>{"id", "timestamp", "class", "operation", "ref", "snapshot"});
        CHECK(str(member(e, "operation")) == "add");
        CHECK(str(member(e, "timestamp")) == "0.0");
        CHECK(std::regex_match(str(member(e, "id")), std::regex("[0-9]+")));
    }
    auto s2 = summary(events);
    CHECK(std::find(s2.begin(), s2.end(), std::make_tuple(std::string("pool"), std::string("add"), f.poolRef)) != s2.end());
    CHECK(std::find(s2.begin(), s2.end(), std::make_tuple(std::string("host"), std::string("add"), f.hostRef)) != s2.end());
    CHECK(std::find(s2.begin(), s2.end(), std::make_tuple(std::string("vm_guest_metrics"), std::string("add"), f.gmRef)) != s2.end());
}

TEST_CASE("event.from's token has xapi's two 20-digit fields", "[dispatch][events]")
{
    Fixture f;
    const std::string s = f.login();
    auto o = from(f, s, {"*"}, "", 1.0);
    CHECK(std::regex_match(tokenOf(o), std::regex("[0-9]{20},00000000000000000000")));
    CHECK(std::stoull(tokenOf(o).substr(0, 20)) == f.store.generation());
}

TEST_CASE("event.from's valid_ref_counts has an Int32 count per served class", "[dispatch][events]")
{
    Fixture f;
    const std::string s = f.login();
    auto o = from(f, s, {"vm"}, "", 1.0);
    const Value* counts = member(o.result, "valid_ref_counts");
    REQUIRE(counts != nullptr);
    CHECK(*member(*counts, "vm") == Value(Int32{4}));
    CHECK(*member(*counts, "pool") == Value(Int32{1}));
    CHECK(*member(*counts, "host") == Value(Int32{1}));
    CHECK(*member(*counts, "vm_guest_metrics") == Value(Int32{2}));
    CHECK(member(*counts, "task") != nullptr);
}

TEST_CASE("A later token returns only what changed, as mod, add or del", "[dispatch][events]")
{
    Fixture f;
    const std::string s = f.login();
    const std::string token = tokenOf(from(f, s, {"*"}, "", 1.0));
    auto gm = *f.store.getAs<metrics::GuestMetricsRecord>(f.gmRef);
    gm.other = gm.other.with("data-ts", "1");
    REQUIRE(f.store.update(f.gmRef, gm));
    metrics::VmRecord vm;
    vm.uuid = metrics::randomUuid();
    vm.nameLabel = "new";
    const std::string newRef = f.store.add(vm);
    f.store.remove(f.haltedRef);

    auto o = from(f, s, {"*"}, token, 1.0);
    auto events = summary(eventsOf(o));
    REQUIRE(events.size() == 3);
    CHECK(std::find(events.begin(), events.end(), std::make_tuple(std::string("vm_guest_metrics"), std::string("mod"), f.gmRef)) != events.end());
    CHECK(std::find(events.begin(), events.end(), std::make_tuple(std::string("vm"), std::string("add"), newRef)) != events.end());
    CHECK(std::find(events.begin(), events.end(), std::make_tuple(std::string("vm"), std::string("del"), f.haltedRef)) != events.end());
    for (const auto& e : eventsOf(o)) {
        if (str(member(e, "operation")) == "del") {
            CHECK(member(e, "snapshot") == nullptr);
        } else {
            REQUIRE(member(e, "snapshot") != nullptr);
        }
        if (str(member(e, "ref")) == f.gmRef) {
            CHECK(*member(*member(*member(e, "snapshot"), "other"), "data-ts") == Value("1"));
        }
    }
}

TEST_CASE("event.from follows only the classes asked for, case-insensitively", "[dispatch][events]")
{
    Fixture f;
    const std::string s = f.login();
    for (const char* cls : {"VM_guest_metrics", "vm_guest_metrics", "Vm_Guest_Metrics"}) {
        INFO(cls);
        auto events = summary(eventsOf(from(f, s, {cls}, "", 1.0)));
        REQUIRE(events.size() == 2);
        for (const auto& e : events) CHECK(std::get<0>(e) == "vm_guest_metrics");
    }
    // An unknown class matches nothing (as in xapi), it is no error.
    auto none = from(f, s, {"network"}, "", 0.0);
    CHECK(none.success);
    CHECK(eventsOf(none).empty());
}

TEST_CASE("event.from with class/ref follows one object", "[dispatch][events]")
{
    Fixture f;
    const std::string s = f.login();
    auto events = summary(eventsOf(from(f, s, {Value("VM/" + f.winRef)}, "", 1.0)));
    REQUIRE(events.size() == 1);
    CHECK(std::get<2>(events[0]) == f.winRef);
    CHECK(from(f, s, {"vm/a/b"}, "", 1.0).error == Errors{"EVENT_SUBSCRIPTION_PARSE_FAILURE", "vm/a/b"});
}

TEST_CASE("An unparseable token is EVENT_FROM_TOKEN_PARSE_FAILURE [token]", "[dispatch][events]")
{
    Fixture f;
    const std::string s = f.login();
    for (const char* t : {"abc", "12,x", ",", "-1,0", "1,2,3"}) {
        INFO(t);
        CHECK(from(f, s, {"*"}, t, 1.0).error == Errors{"EVENT_FROM_TOKEN_PARSE_FAILURE", t});
    }
}

TEST_CASE("A token from the future is EVENTS_LOST", "[dispatch][events]")
{
    Fixture f;
    const std::string s = f.login();
    CHECK(from(f, s, {"*"}, "00000000000099999999,00000000000000000000", 1.0).error == Errors{"EVENTS_LOST"});
}

TEST_CASE("event.from with bad parameter types is FIELD_TYPE_ERROR", "[dispatch][events]")
{
    Fixture f;
    const std::string s = f.login();
    CHECK(f.call("event.from", {s, "*", "", 1.0}).error == Errors{"FIELD_TYPE_ERROR", "classes"});
    CHECK(f.call("event.from", {s, Array{Value(std::int64_t{1})}, "", 1.0}).error == Errors{"FIELD_TYPE_ERROR", "classes"});
    CHECK(f.call("event.from", {s, Array{"*"}, std::int64_t{0}, 1.0}).error == Errors{"FIELD_TYPE_ERROR", "token"});
    CHECK(f.call("event.from", {s, Array{"*"}, "", "1"}).error == Errors{"FIELD_TYPE_ERROR", "timeout"});
}

TEST_CASE("event.from accepts an integer timeout", "[dispatch][events]")
{
    Fixture f;
    const std::string s = f.login();
    CHECK(f.call("event.from", {s, Array{"*"}, "", std::int64_t{1}}).success);
}

TEST_CASE("event.from blocks until a change and then reports it", "[dispatch][events]")
{
    Fixture f;
    const std::string s = f.login();
    const std::string token = tokenOf(from(f, s, {"*"}, "", 1.0));
    auto pending = f.start("event.from", {s, Array{"vm_guest_metrics"}, token, 30.0});
    // Nothing changed yet: still waiting after the io_context went idle.
    runUntil(f.io, [] { return false; }, std::chrono::milliseconds(100));
    REQUIRE_FALSE(pending->has_value());
    CHECK(f.dispatcher->counters().eventWaiters == 1);

    boost::asio::steady_timer timer(f.io, std::chrono::milliseconds(50));
    timer.async_wait([&f](const boost::system::error_code&) {
        auto gm = *f.store.getAs<metrics::GuestMetricsRecord>(f.gmRef);
        gm.other = gm.other.with("data-ts", "1");
        f.store.update(f.gmRef, gm);
    });
    REQUIRE(runUntil(f.io, [&pending] { return pending->has_value(); }));
    auto events = summary(eventsOf(**pending));
    REQUIRE(events.size() == 1);
    CHECK(events[0] == std::make_tuple(std::string("vm_guest_metrics"), std::string("mod"), f.gmRef));
    CHECK(f.dispatcher->counters().eventWaiters == 0);
}

TEST_CASE("A change of an unfollowed class does not wake event.from", "[dispatch][events]")
{
    Fixture f;
    const std::string s = f.login();
    const std::string token = tokenOf(from(f, s, {"*"}, "", 1.0));
    auto pending = f.start("event.from", {s, Array{"vm_guest_metrics"}, token, 0.5});
    auto vm = *f.store.getAs<metrics::VmRecord>(f.winRef);
    vm.nameLabel = "renamed";
    f.store.update(f.winRef, vm);
    runUntil(f.io, [] { return false; }, std::chrono::milliseconds(100));
    CHECK_FALSE(pending->has_value());
    REQUIRE(runUntil(f.io, [&pending] { return pending->has_value(); }));
    CHECK(eventsOf(**pending).empty());
}

TEST_CASE("event.from times out with no events and a fresh token", "[dispatch][events]")
{
    Fixture f;
    const std::string s = f.login();
    const std::string token = tokenOf(from(f, s, {"*"}, "", 1.0));
    const auto start = std::chrono::steady_clock::now();
    auto o = from(f, s, {"*"}, token, 0.2);
    const auto elapsed = std::chrono::steady_clock::now() - start;
    REQUIRE(o.success);
    CHECK(eventsOf(o).empty());
    CHECK(tokenOf(o) == token);
    CHECK(member(o.result, "valid_ref_counts") != nullptr);
    CHECK(elapsed >= std::chrono::milliseconds(200));
    CHECK(elapsed < std::chrono::seconds(3));
}

TEST_CASE("200 concurrent event.from waiters are all answered after one change", "[dispatch][events]")
{
    Fixture f;
    const std::string s = f.login();
    const std::string token = tokenOf(from(f, s, {"*"}, "", 1.0));
    std::vector<std::shared_ptr<std::optional<Outcome>>> waiters;
    for (int i = 0; i < 200; ++i) waiters.push_back(f.start("event.from", {s, Array{"*"}, token, 30.0}));
    runUntil(f.io, [] { return false; }, std::chrono::milliseconds(50));
    CHECK(f.dispatcher->counters().eventWaiters == 200);
    f.store.touch(f.winRef);
    REQUIRE(runUntil(f.io, [&waiters] {
        return std::all_of(waiters.begin(), waiters.end(), [](const auto& w) { return w->has_value(); });
    }));
    for (const auto& w : waiters) {
        REQUIRE((*w)->success);
        CHECK(summary(eventsOf(**w)) ==
              std::vector<std::tuple<std::string, std::string, std::string>>{{"vm", "mod", f.winRef}});
    }
    CHECK(f.store.waiterCount() == 0);
}

TEST_CASE("Logging out a session fails its waiting event.from with SESSION_INVALID", "[dispatch][events]")
{
    Fixture f;
    const std::string s = f.login();
    const std::string other = f.login();
    const std::string token = tokenOf(from(f, s, {"*"}, "", 1.0));
    auto pending = f.start("event.from", {s, Array{"*"}, token, 30.0});
    runUntil(f.io, [] { return false; }, std::chrono::milliseconds(50));
    REQUIRE_FALSE(pending->has_value());
    // The session is shared across connections: logout comes on another call.
    REQUIRE(f.call("session.logout", {s}).success);
    REQUIRE(runUntil(f.io, [&pending] { return pending->has_value(); }));
    CHECK((*pending)->error == Errors{"SESSION_INVALID", s});
    CHECK(f.call("VM.get_all", {other}).success);
}

TEST_CASE("Lost history is EVENTS_LOST", "[dispatch][events]")
{
    // A store that remembers a single deletion.
    boost::asio::io_context io;
    metrics::ObjectStore small(1);
    FakeAuthenticator authenticator(io);
    authenticator.accounts["admin"] = {"secret", auth::Role::PoolAdmin};
    auth::LoginThrottle throttle(io.get_executor(), std::chrono::milliseconds(10));
    FakeGuestControl guest(io);
    Dispatcher d(io.get_executor(), small, authenticator, throttle, guest, Fixture::testConfig());
    auto call = [&io, &d](const std::string& method, Array params) {
        std::optional<Outcome> out;
        d.call(Call{method, std::move(params)}, {}, [&out](Outcome o) { out = std::move(o); });
        runUntil(io, [&out] { return out.has_value(); });
        return out.value_or(Outcome::failure({"TEST_TIMEOUT"}));
    };
    const std::string s = str(call("session.login_with_password", {"admin", "secret"}).result);
    const auto a = small.add(metrics::VmRecord{});
    const auto b = small.add(metrics::VmRecord{});
    const std::string token = str(member(call("event.from", {s, Array{"*"}, "", 0.0}).result, "token"));
    small.remove(a);
    small.remove(b);  // forgets the deletion of a
    CHECK(call("event.from", {s, Array{"*"}, token, 1.0}).error == Errors{"EVENTS_LOST"});
}

TEST_CASE("event.inject touches the object and returns the token just before it", "[dispatch][events]")
{
    Fixture f;
    const std::string s = f.login();
    auto o = f.call("event.inject", {s, "pool", f.poolRef});
    REQUIRE(o.success);
    const std::string token = str(o.result);
    CHECK(std::regex_match(token, std::regex("[0-9]{20},[0-9]{20}")));
    auto events = summary(eventsOf(from(f, s, {"pool"}, token, 1.0)));
    CHECK(events == std::vector<std::tuple<std::string, std::string, std::string>>{{"pool", "mod", f.poolRef}});
}

TEST_CASE("event.inject with a class that does not match the ref is HANDLE_INVALID", "[dispatch][events]")
{
    Fixture f;
    const std::string s = f.login();
    CHECK(f.call("event.inject", {s, "VM", f.poolRef}).error == Errors{"HANDLE_INVALID", "VM", f.poolRef});
    CHECK(f.call("event.inject", {s, "pool", "OpaqueRef:x"}).error == Errors{"HANDLE_INVALID", "pool", "OpaqueRef:x"});
}

TEST_CASE("event.get_current_id is the store generation as an int", "[dispatch][events]")
{
    Fixture f;
    const std::string s = f.login();
    CHECK(f.call("event.get_current_id", {s}).result == Value(static_cast<std::int64_t>(f.store.generation())));
}

TEST_CASE("event.next without register is SESSION_NOT_REGISTERED", "[dispatch][events]")
{
    Fixture f;
    const std::string s = f.login();
    CHECK(f.call("event.next", {s}).error == Errors{"SESSION_NOT_REGISTERED", s});
}

TEST_CASE("event.next after register blocks until a change of a registered class", "[dispatch][events]")
{
    Fixture f;
    const std::string s = f.login();
    REQUIRE(f.call("event.register", {s, Array{"VM_guest_metrics"}}).result == Value(""));
    auto pending = f.start("event.next", {s});
    runUntil(f.io, [] { return false; }, std::chrono::milliseconds(50));
    REQUIRE_FALSE(pending->has_value());
    f.store.touch(f.winRef);  // not registered
    f.store.touch(f.gmRef);
    REQUIRE(runUntil(f.io, [&pending] { return pending->has_value(); }));
    REQUIRE((*pending)->success);
    const auto* events = (*pending)->result.getIf<Array>();
    REQUIRE(events != nullptr);
    REQUIRE(events->size() == 1);
    CHECK(str(member((*events)[0], "ref")) == f.gmRef);
    CHECK(std::regex_match(str(member((*events)[0], "timestamp")), std::regex("[0-9]+\\.")));
    // The cursor moved: nothing new now.
    CHECK(f.call("event.unregister", {s, Array{"VM_guest_metrics"}}).success);
}

TEST_CASE("Released waiters are answered at once, and later waits end at once", "[dispatch][events]")
{
    // The daemon releases waiters on SIGTERM; a 30 s long-poll must not hold
    // the drain until its bound (found by tests/clients/test_faults.py).
    Fixture f;
    const std::string s = f.login();
    const std::string token = tokenOf(from(f, s, {"*"}, "", 1.0));
    auto pending = f.start("event.from", {s, Array{"*"}, token, 30.0});
    auto legacy = f.call("event.register", {s, Array{"vm"}});
    REQUIRE(legacy.success);
    auto next = f.start("event.next", {s});
    REQUIRE(runUntil(f.io, [&f] { return f.dispatcher->counters().eventWaiters == 2; }));
    REQUIRE_FALSE(pending->has_value());

    const auto start = std::chrono::steady_clock::now();
    f.dispatcher->releaseWaiters();
    REQUIRE(runUntil(f.io, [&pending, &next] { return pending->has_value() && next->has_value(); },
                     std::chrono::seconds(2)));
    REQUIRE((*pending)->success);
    CHECK(eventsOf(**pending).empty());
    CHECK_FALSE(tokenOf(**pending).empty());
    REQUIRE((*next)->success);
    CHECK(f.dispatcher->counters().eventWaiters == 0);

    // A wait started after the release does not wait either.
    auto late = f.start("event.from", {s, Array{"*"}, tokenOf(**pending), 30.0});
    REQUIRE(runUntil(f.io, [&late] { return late->has_value(); }, std::chrono::seconds(2)));
    CHECK((*late)->success);
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
}
