#include <metrics/object_store.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

using namespace xenrdp::metrics;

namespace {

Record vm(const std::string& uuid, const std::string& name = "vm") {
    VmRecord r;
    r.uuid = uuid;
    r.nameLabel = name;
    return r;
}

Record host(const std::string& uuid) {
    HostRecord r;
    r.uuid = uuid;
    return r;
}

Record guestMetrics(const std::string& uuid) {
    GuestMetricsRecord r;
    r.uuid = uuid;
    return r;
}

const Change* findChange(const ChangesResult& result, const std::string& ref) {
    auto it = std::find_if(result.changes.begin(), result.changes.end(),
                           [&ref](const Change& c) { return c.ref == ref; });
    return it == result.changes.end() ? nullptr : &*it;
}

std::string nameOf(const Change& change) {
    REQUIRE(change.snapshot);
    return std::get<VmRecord>(*change.snapshot).nameLabel;
}

ClassFilter only(ObjectClass cls) {
    ClassFilter filter;
    filter.classes[static_cast<std::size_t>(cls)] = true;
    return filter;
}

}  // namespace

TEST_CASE("Each change takes the next store generation", "[metrics][object_store]") {
    ObjectStore store;
    CHECK(store.generation() == 0);
    const auto ref = store.add(vm("u1"));
    CHECK(store.generation() == 1);
    CHECK(store.update(ref, vm("u1", "renamed")));
    CHECK(store.generation() == 2);
    CHECK(store.touch(ref));
    CHECK(store.generation() == 3);
    store.remove(ref);
    CHECK(store.generation() == 4);
}

TEST_CASE("An object created after the token is reported as add with its snapshot",
          "[metrics][object_store]") {
    ObjectStore store;
    store.add(vm("old"));
    const auto token = store.generation();
    const auto ref = store.add(vm("new", "fresh"));

    const auto result = store.changesSince(token, ClassFilter::all());
    REQUIRE(result.changes.size() == 1);
    const Change& c = result.changes.front();
    CHECK(c.ref == ref);
    CHECK(c.op == ChangeOp::Add);
    CHECK(c.cls == ObjectClass::Vm);
    CHECK(c.generation == store.generation());
    CHECK(nameOf(c) == "fresh");
    CHECK(result.generation == store.generation());
    CHECK_FALSE(result.lost);
}

TEST_CASE("An object that existed at the token and changed is reported as mod",
          "[metrics][object_store]") {
    ObjectStore store;
    const auto ref = store.add(vm("u1", "before"));
    const auto token = store.generation();
    store.update(ref, vm("u1", "after"));

    const auto result = store.changesSince(token, ClassFilter::all());
    REQUIRE(result.changes.size() == 1);
    CHECK(result.changes[0].op == ChangeOp::Mod);
    CHECK(nameOf(result.changes[0]) == "after");
}

TEST_CASE("An object that existed at the token and was removed is reported as del without snapshot",
          "[metrics][object_store]") {
    ObjectStore store;
    const auto ref = store.add(vm("u1"));
    const auto token = store.generation();
    store.remove(ref);

    const auto result = store.changesSince(token, ClassFilter::all());
    REQUIRE(result.changes.size() == 1);
    CHECK(result.changes[0].ref == ref);
    CHECK(result.changes[0].op == ChangeOp::Del);
    CHECK(result.changes[0].cls == ObjectClass::Vm);
    CHECK(result.changes[0].snapshot == nullptr);
    CHECK(result.changes[0].generation == store.generation());
}

TEST_CASE("Objects created and removed after the token are left out", "[metrics][object_store]") {
    ObjectStore store;
    const auto token = store.generation();
    const auto ref = store.add(vm("short-lived"));
    store.update(ref, vm("short-lived", "x"));
    store.remove(ref);

    CHECK(store.changesSince(token, ClassFilter::all()).changes.empty());
}

TEST_CASE("Many updates of one object give one entry with its latest state",
          "[metrics][object_store]") {
    ObjectStore store;
    const auto ref = store.add(vm("u1", "v0"));
    const auto token = store.generation();
    for (int i = 1; i <= 50; ++i) {
        store.update(ref, vm("u1", "v" + std::to_string(i)));
    }

    const auto result = store.changesSince(token, ClassFilter::all());
    REQUIRE(result.changes.size() == 1);
    CHECK(result.changes[0].op == ChangeOp::Mod);
    CHECK(nameOf(result.changes[0]) == "v50");
    CHECK(result.changes[0].generation == store.generation());
}

TEST_CASE("An object added and then modified after the token is still an add",
          "[metrics][object_store]") {
    ObjectStore store;
    const auto token = store.generation();
    const auto ref = store.add(vm("u1", "first"));
    store.update(ref, vm("u1", "second"));

    const auto result = store.changesSince(token, ClassFilter::all());
    REQUIRE(result.changes.size() == 1);
    CHECK(result.changes[0].op == ChangeOp::Add);
    CHECK(nameOf(result.changes[0]) == "second");
}

TEST_CASE("Updating with an equal record takes no generation and reports no change",
          "[metrics][object_store]") {
    ObjectStore store;
    const auto ref = store.add(vm("u1", "same"));
    const auto token = store.generation();
    int notified = 0;
    store.waitForChange([&notified] { ++notified; });

    CHECK_FALSE(store.update(ref, vm("u1", "same")));
    CHECK(store.generation() == token);
    CHECK(store.changesSince(token, ClassFilter::all()).changes.empty());
    CHECK(notified == 0);
}

TEST_CASE("Updating an unknown ref or with another class's record changes nothing",
          "[metrics][object_store]") {
    ObjectStore store;
    const auto ref = store.add(vm("u1"));
    const auto token = store.generation();

    CHECK_FALSE(store.update("OpaqueRef:unknown", vm("u2")));
    CHECK_FALSE(store.update(ref, host("u1")));
    CHECK(store.generation() == token);
    CHECK(std::holds_alternative<VmRecord>(*store.get(ref)));
}

TEST_CASE("A token of zero lists every live object as add and no deletions",
          "[metrics][object_store]") {
    ObjectStore store;
    const auto a = store.add(vm("a"));
    const auto b = store.add(host("b"));
    const auto c = store.add(vm("c"));
    store.update(a, vm("a", "changed"));
    store.remove(c);

    const auto result = store.changesSince(0, ClassFilter::all());
    REQUIRE(result.changes.size() == 2);
    for (const auto& change : result.changes) {
        CHECK(change.op == ChangeOp::Add);
        CHECK(change.snapshot != nullptr);
    }
    CHECK(findChange(result, a) != nullptr);
    CHECK(findChange(result, b) != nullptr);
    CHECK(findChange(result, c) == nullptr);
}

TEST_CASE("Changes come out ordered by generation", "[metrics][object_store]") {
    ObjectStore store;
    const auto a = store.add(vm("a"));
    const auto b = store.add(vm("b"));
    const auto c = store.add(vm("c"));
    const auto token = store.generation();
    store.remove(b);
    store.touch(c);
    store.touch(a);

    const auto result = store.changesSince(token, ClassFilter::all());
    REQUIRE(result.changes.size() == 3);
    CHECK(result.changes[0].ref == b);
    CHECK(result.changes[1].ref == c);
    CHECK(result.changes[2].ref == a);
}

TEST_CASE("A token from the future gives no changes and the current generation",
          "[metrics][object_store]") {
    ObjectStore store;
    store.add(vm("a"));
    const auto result = store.changesSince(store.generation() + 100, ClassFilter::all());
    CHECK(result.changes.empty());
    CHECK(result.generation == store.generation());
}

TEST_CASE("touch reports an unchanged object as mod and refuses unknown refs",
          "[metrics][object_store]") {
    ObjectStore store;
    const auto ref = store.add(vm("u1", "same"));
    const auto token = store.generation();

    CHECK(store.touch(ref));
    CHECK_FALSE(store.touch("OpaqueRef:unknown"));
    const auto result = store.changesSince(token, ClassFilter::all());
    REQUIRE(result.changes.size() == 1);
    CHECK(result.changes[0].op == ChangeOp::Mod);
    CHECK(nameOf(result.changes[0]) == "same");
}

TEST_CASE("Removing an unknown ref is ignored", "[metrics][object_store]") {
    ObjectStore store;
    store.add(vm("a"));
    const auto token = store.generation();
    store.remove("OpaqueRef:unknown");
    CHECK(store.generation() == token);
    CHECK(store.count(ObjectClass::Vm) == 1);
}

TEST_CASE("A ref removed and added again after the token is reported once, as mod",
          "[metrics][object_store]") {
    ObjectStore store;
    const std::string ref = "OpaqueRef:fixed";
    store.add(ref, vm("u1", "first life"));
    const auto token = store.generation();
    store.remove(ref);
    store.add(ref, vm("u1", "second life"));

    const auto result = store.changesSince(token, ClassFilter::all());
    REQUIRE(result.changes.size() == 1);
    CHECK(result.changes[0].op == ChangeOp::Mod);
    CHECK(nameOf(result.changes[0]) == "second life");
}

TEST_CASE("A ref removed twice after the token gives one del at the last removal",
          "[metrics][object_store]") {
    ObjectStore store;
    const std::string ref = "OpaqueRef:fixed";
    store.add(ref, vm("u1"));
    const auto token = store.generation();
    store.remove(ref);
    store.add(ref, vm("u1"));
    store.remove(ref);

    const auto result = store.changesSince(token, ClassFilter::all());
    REQUIRE(result.changes.size() == 1);
    CHECK(result.changes[0].op == ChangeOp::Del);
    CHECK(result.changes[0].generation == store.generation());
}

TEST_CASE("Adding under a ref in use or an empty ref throws and changes nothing",
          "[metrics][object_store]") {
    ObjectStore store;
    store.add("OpaqueRef:taken", vm("u1", "original"));
    const auto token = store.generation();

    CHECK_THROWS_AS(store.add("OpaqueRef:taken", vm("u2")), std::invalid_argument);
    CHECK_THROWS_AS(store.add("", vm("u3")), std::invalid_argument);
    CHECK(store.generation() == token);
    CHECK(store.getAs<VmRecord>("OpaqueRef:taken")->nameLabel == "original");
    CHECK_FALSE(store.findByUuid(ObjectClass::Vm, "u2"));
}

TEST_CASE("Deletions beyond the retention are forgotten and older tokens are marked lost",
          "[metrics][object_store]") {
    ObjectStore store(2);
    std::vector<std::string> refs;
    for (int i = 0; i < 4; ++i) {
        refs.push_back(store.add(vm("u" + std::to_string(i))));
    }
    const auto token = store.generation();  // 4
    for (const auto& ref : refs) {
        store.remove(ref);  // generations 5..8; only 7 and 8 are remembered
    }

    const auto result = store.changesSince(token, ClassFilter::all());
    CHECK(result.lost);
    REQUIRE(result.changes.size() == 2);
    CHECK(result.changes[0].ref == refs[2]);
    CHECK(result.changes[1].ref == refs[3]);
}

TEST_CASE("A token at or after the last forgotten deletion is not lost",
          "[metrics][object_store]") {
    ObjectStore store(2);
    std::vector<std::string> refs;
    for (int i = 0; i < 4; ++i) {
        refs.push_back(store.add(vm("u" + std::to_string(i))));
    }
    for (const auto& ref : refs) {
        store.remove(ref);  // generations 5..8; 5 and 6 forgotten
    }

    CHECK(store.changesSince(5, ClassFilter::all()).lost);
    const auto atForgotten = store.changesSince(6, ClassFilter::all());
    CHECK_FALSE(atForgotten.lost);
    CHECK(atForgotten.changes.size() == 2);
    CHECK_FALSE(store.changesSince(0, ClassFilter::all()).lost);
}

TEST_CASE("A class filter returns only objects of the chosen classes", "[metrics][object_store]") {
    ObjectStore store;
    const auto v = store.add(vm("v"));
    const auto h = store.add(host("h"));
    const auto g = store.add(guestMetrics("g"));
    store.remove(h);

    const auto result = store.changesSince(0, only(ObjectClass::GuestMetrics));
    REQUIRE(result.changes.size() == 1);
    CHECK(result.changes[0].ref == g);
    CHECK(findChange(result, v) == nullptr);

    const auto deletions = store.changesSince(2, only(ObjectClass::Host));
    REQUIRE(deletions.changes.size() == 1);
    CHECK(deletions.changes[0].op == ChangeOp::Del);
}

TEST_CASE("A ref filter follows exactly the subscribed objects", "[metrics][object_store]") {
    ObjectStore store;
    const auto a = store.add(vm("a"));
    const auto b = store.add(vm("b"));
    const auto token = store.generation();
    store.touch(a);
    store.touch(b);
    store.remove(a);

    ClassFilter filter;
    filter.refs = {a};
    const auto result = store.changesSince(token, filter);
    REQUIRE(result.changes.size() == 1);
    CHECK(result.changes[0].ref == a);
    CHECK(result.changes[0].op == ChangeOp::Del);
}

TEST_CASE("ClassFilter::all matches every class and an empty filter matches nothing",
          "[metrics][object_store]") {
    const ClassFilter everything = ClassFilter::all();
    const ClassFilter nothing;
    for (std::size_t i = 0; i < kObjectClassCount; ++i) {
        const auto cls = static_cast<ObjectClass>(i);
        CHECK(everything.matches(cls, "OpaqueRef:x"));
        CHECK_FALSE(nothing.matches(cls, "OpaqueRef:x"));
    }
}

TEST_CASE("A ref subscription matches only that exact ref", "[metrics][object_store]") {
    ClassFilter filter;
    filter.refs = {"OpaqueRef:abc"};
    CHECK(filter.matches(ObjectClass::Vm, "OpaqueRef:abc"));
    CHECK_FALSE(filter.matches(ObjectClass::Vm, "OpaqueRef:abcd"));
    CHECK_FALSE(filter.matches(ObjectClass::Vm, "OpaqueRef:ab"));
}

TEST_CASE("A waiter is called once, right after the next change", "[metrics][object_store]") {
    ObjectStore store;
    int calls = 0;
    std::uint64_t seenGeneration = 0;
    store.waitForChange([&calls, &seenGeneration, &store] {
        ++calls;
        seenGeneration = store.generation();
    });
    CHECK(store.waiterCount() == 1);

    const auto ref = store.add(vm("a"));
    CHECK(calls == 1);
    CHECK(seenGeneration == 1);
    CHECK(store.waiterCount() == 0);

    store.touch(ref);
    store.remove(ref);
    CHECK(calls == 1);
}

TEST_CASE("Every kind of change wakes waiters", "[metrics][object_store]") {
    ObjectStore store;
    int calls = 0;
    const auto wait = [&calls, &store] { store.waitForChange([&calls] { ++calls; }); };

    wait();
    const auto ref = store.add(vm("a"));
    wait();
    store.update(ref, vm("a", "b"));
    wait();
    store.touch(ref);
    wait();
    store.remove(ref);
    CHECK(calls == 4);
}

TEST_CASE("A waiter registered from a callback waits for the following change",
          "[metrics][object_store]") {
    ObjectStore store;
    int first = 0;
    int second = 0;
    store.waitForChange([&first, &second, &store] {
        ++first;
        store.waitForChange([&second] { ++second; });
    });

    const auto ref = store.add(vm("a"));
    CHECK(first == 1);
    CHECK(second == 0);
    CHECK(store.waiterCount() == 1);

    store.touch(ref);
    CHECK(first == 1);
    CHECK(second == 1);
    CHECK(store.waiterCount() == 0);
}

TEST_CASE("A cancelled waiter is not called", "[metrics][object_store]") {
    ObjectStore store;
    int calls = 0;
    const auto id = store.waitForChange([&calls] { ++calls; });
    store.cancelWait(id);
    store.cancelWait(id);  // twice is harmless
    store.cancelWait(12345);

    store.add(vm("a"));
    CHECK(calls == 0);
    CHECK(store.waiterCount() == 0);
}

TEST_CASE("A callback can cancel another waiter of the same change", "[metrics][object_store]") {
    ObjectStore store;
    int victimCalls = 0;
    ObjectStore::WaiterId victim = 0;
    store.waitForChange([&store, &victim] { store.cancelWait(victim); });
    victim = store.waitForChange([&victimCalls] { ++victimCalls; });

    store.add(vm("a"));
    CHECK(victimCalls == 0);
    CHECK(store.waiterCount() == 0);
}

TEST_CASE("A callback can cancel itself without harm", "[metrics][object_store]") {
    ObjectStore store;
    int calls = 0;
    ObjectStore::WaiterId self = 0;
    self = store.waitForChange([&store, &self, &calls] {
        ++calls;
        store.cancelWait(self);
    });
    store.add(vm("a"));
    CHECK(calls == 1);
    CHECK(store.waiterCount() == 0);
}

TEST_CASE("A throwing waiter neither stops the other waiters nor undoes the change",
          "[metrics][object_store]") {
    ObjectStore store;
    int calls = 0;
    store.waitForChange([] { throw std::runtime_error("boom"); });
    store.waitForChange([&calls] { ++calls; });

    std::string ref;
    CHECK_NOTHROW(ref = store.add(vm("a")));
    CHECK(calls == 1);
    CHECK(store.get(ref) != nullptr);
}

TEST_CASE("findByUuid finds live objects by class and uuid", "[metrics][object_store]") {
    ObjectStore store;
    const auto v = store.add(vm("same-uuid"));
    const auto g = store.add(guestMetrics("same-uuid"));

    CHECK(store.findByUuid(ObjectClass::Vm, "same-uuid") == v);
    CHECK(store.findByUuid(ObjectClass::GuestMetrics, "same-uuid") == g);
    CHECK_FALSE(store.findByUuid(ObjectClass::Host, "same-uuid"));
    CHECK_FALSE(store.findByUuid(ObjectClass::Vm, "other"));
}

TEST_CASE("findByUuid follows a uuid change and forgets removed objects",
          "[metrics][object_store]") {
    ObjectStore store;
    const auto ref = store.add(vm("before"));
    store.update(ref, vm("after"));
    CHECK_FALSE(store.findByUuid(ObjectClass::Vm, "before"));
    CHECK(store.findByUuid(ObjectClass::Vm, "after") == ref);

    store.remove(ref);
    CHECK_FALSE(store.findByUuid(ObjectClass::Vm, "after"));
}

TEST_CASE("findByUuid keeps a duplicate uuid findable after one holder goes",
          "[metrics][object_store]") {
    ObjectStore store;
    const auto first = store.add(vm("dup"));
    const auto second = store.add(vm("dup"));
    store.remove(second);
    CHECK(store.findByUuid(ObjectClass::Vm, "dup") == first);
}

TEST_CASE("findByUuid holds across updates that free the records it was indexed from",
          "[metrics][object_store]") {
    // Uuids past the short-string buffer live on the heap: a key left
    // viewing a freed record would read freed memory (ASan in CI).
    const std::string uuidA = "aaaaaaaa-0000-4000-8000-000000000001";
    const std::string uuidB = "bbbbbbbb-0000-4000-8000-000000000002";
    ObjectStore store;
    const auto a = store.add(vm(uuidA, "a0"));
    const auto b = store.add(vm(uuidB, "b0"));
    for (int i = 1; i <= 3; ++i) {
        REQUIRE(store.update(a, vm(uuidA, "a" + std::to_string(i))));
        REQUIRE(store.update(b, vm(uuidB, "b" + std::to_string(i))));
    }
    CHECK(store.findByUuid(ObjectClass::Vm, uuidA) == a);
    CHECK(store.findByUuid(ObjectClass::Vm, uuidB) == b);

    SECTION("a duplicate uuid: the one updated last wins, the other stays findable") {
        const auto dup = store.add(vm(uuidA, "dup"));
        CHECK(store.findByUuid(ObjectClass::Vm, uuidA) == dup);
        REQUIRE(store.update(a, vm(uuidA, "a-again")));
        CHECK(store.findByUuid(ObjectClass::Vm, uuidA) == a);
        store.remove(a);
        CHECK(store.findByUuid(ObjectClass::Vm, uuidA) == dup);
        REQUIRE(store.update(dup, vm(uuidA, "dup2")));
        CHECK(store.findByUuid(ObjectClass::Vm, uuidA) == dup);
    }
    SECTION("moving to another uuid leaves the first one to nobody") {
        REQUIRE(store.update(a, vm(uuidB, "a-as-b")));
        CHECK_FALSE(store.findByUuid(ObjectClass::Vm, uuidA));
        CHECK(store.findByUuid(ObjectClass::Vm, uuidB) == a);
        store.remove(a);
        CHECK(store.findByUuid(ObjectClass::Vm, uuidB) == b);
    }
}

TEST_CASE("all lists one class ordered by ref and count follows adds and removals",
          "[metrics][object_store]") {
    ObjectStore store;
    store.add("OpaqueRef:c", vm("c"));
    store.add("OpaqueRef:a", vm("a"));
    store.add("OpaqueRef:b", vm("b"));
    store.add("OpaqueRef:h", host("h"));
    store.remove("OpaqueRef:b");

    const auto vms = store.all(ObjectClass::Vm);
    REQUIRE(vms.size() == 2);
    CHECK(vms[0].first == "OpaqueRef:a");
    CHECK(vms[1].first == "OpaqueRef:c");
    CHECK(store.count(ObjectClass::Vm) == 2);
    CHECK(store.count(ObjectClass::Host) == 1);
    CHECK(store.count(ObjectClass::Console) == 0);
}

TEST_CASE("A snapshot handed out stays unchanged after the object is updated or removed",
          "[metrics][object_store]") {
    ObjectStore store;
    const auto ref = store.add(vm("u", "original"));
    const auto snapshot = store.get(ref);
    store.update(ref, vm("u", "changed"));
    store.remove(ref);

    REQUIRE(snapshot);
    CHECK(std::get<VmRecord>(*snapshot).nameLabel == "original");
    CHECK(store.get(ref) == nullptr);
    CHECK(store.getAs<VmRecord>(ref) == nullptr);
}

TEST_CASE("getAs returns the record only for the matching type", "[metrics][object_store]") {
    ObjectStore store;
    const auto ref = store.add(vm("u", "name"));
    REQUIRE(store.getAs<VmRecord>(ref) != nullptr);
    CHECK(store.getAs<VmRecord>(ref)->nameLabel == "name");
    CHECK(store.getAs<HostRecord>(ref) == nullptr);
}

TEST_CASE("With 10,000 objects, changesSince returns exactly the 100 changed after the token",
          "[metrics][object_store]") {
    ObjectStore store;
    std::vector<std::string> refs;
    refs.reserve(10000);
    for (int i = 0; i < 10000; ++i) {
        refs.push_back(store.add(vm("u" + std::to_string(i))));
    }
    const auto token = store.generation();

    std::set<std::string> modified;
    std::set<std::string> removed;
    for (std::size_t i = 0; i < 100; ++i) {
        const std::size_t index = (i * 97U) % refs.size();
        if (i % 4 == 0) {
            store.remove(refs[index]);
            removed.insert(refs[index]);
        } else {
            store.update(refs[index], vm("u" + std::to_string(index), "renamed"));
            modified.insert(refs[index]);
        }
    }

    const auto result = store.changesSince(token, ClassFilter::all());
    REQUIRE(result.changes.size() == 100);
    for (const auto& change : result.changes) {
        if (change.op == ChangeOp::Del) {
            CHECK(removed.count(change.ref) == 1);
        } else {
            CHECK(change.op == ChangeOp::Mod);
            CHECK(modified.count(change.ref) == 1);
        }
    }
    CHECK(store.count(ObjectClass::Vm) == 10000 - removed.size());
    CHECK(store.findByUuid(ObjectClass::Vm, "u5000") == refs[5000]);
}

TEST_CASE("forEach visits every live object of one class, and only those", "[metrics][object_store]") {
    ObjectStore store;
    const std::string a = store.add(vm("11111111-1111-1111-1111-111111111111", "a"));
    const std::string b = store.add(vm("22222222-2222-2222-2222-222222222222", "b"));
    const std::string gone = store.add(vm("33333333-3333-3333-3333-333333333333", "gone"));
    store.add(host("44444444-4444-4444-4444-444444444444"));
    store.remove(gone);
    std::set<std::string> seen;
    store.forEach(ObjectClass::Vm, [&seen](const std::string& ref, const Record& record) {
        const auto* r = std::get_if<VmRecord>(&record);
        REQUIRE(r != nullptr);
        seen.insert(ref + "=" + r->nameLabel);
    });
    CHECK(seen == std::set<std::string>{a + "=a", b + "=b"});
    int guests = 0;
    store.forEach(ObjectClass::GuestMetrics, [&guests](const std::string&, const Record&) { ++guests; });
    CHECK(guests == 0);
}
