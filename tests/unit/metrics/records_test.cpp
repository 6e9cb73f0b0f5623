#include <metrics/records.hpp>

#include <catch2/catch.hpp>

#include <regex>
#include <set>
#include <string>

using namespace xenrdp::metrics;

TEST_CASE("className gives the datamodel's class names", "[metrics][records]") {
    CHECK(std::string(className(ObjectClass::Pool)) == "pool");
    CHECK(std::string(className(ObjectClass::Host)) == "host");
    CHECK(std::string(className(ObjectClass::Vm)) == "VM");
    CHECK(std::string(className(ObjectClass::GuestMetrics)) == "VM_guest_metrics");
    CHECK(std::string(className(ObjectClass::Console)) == "console");
}

TEST_CASE("classOf names the class of the record a variant holds", "[metrics][records]") {
    CHECK(classOf(Record{PoolRecord{}}) == ObjectClass::Pool);
    CHECK(classOf(Record{HostRecord{}}) == ObjectClass::Host);
    CHECK(classOf(Record{VmRecord{}}) == ObjectClass::Vm);
    CHECK(classOf(Record{GuestMetricsRecord{}}) == ObjectClass::GuestMetrics);
    CHECK(classOf(Record{ConsoleRecord{}}) == ObjectClass::Console);
}

TEST_CASE("powerStateName and tristateName give the wire enum strings", "[metrics][records]") {
    CHECK(std::string(powerStateName(PowerState::Halted)) == "Halted");
    CHECK(std::string(powerStateName(PowerState::Paused)) == "Paused");
    CHECK(std::string(powerStateName(PowerState::Running)) == "Running");
    CHECK(std::string(powerStateName(PowerState::Suspended)) == "Suspended");
    CHECK(std::string(tristateName(Tristate::Yes)) == "yes");
    CHECK(std::string(tristateName(Tristate::No)) == "no");
    CHECK(std::string(tristateName(Tristate::Unspecified)) == "unspecified");
}

TEST_CASE("randomUuid returns lowercase version-4 UUIDs", "[metrics][records]") {
    const std::regex v4("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
    for (int i = 0; i < 100; ++i) {
        const std::string uuid = randomUuid();
        INFO(uuid);
        REQUIRE(std::regex_match(uuid, v4));
    }
}

TEST_CASE("randomUuid does not repeat itself", "[metrics][records]") {
    std::set<std::string> seen;
    for (int i = 0; i < 1000; ++i) {
        seen.insert(randomUuid());
    }
    CHECK(seen.size() == 1000);
}

TEST_CASE("newRef is OpaqueRef: followed by a fresh uuid", "[metrics][records]") {
    const std::string a = newRef();
    const std::string b = newRef();
    CHECK(a.rfind("OpaqueRef:", 0) == 0);
    CHECK(a.size() == std::string("OpaqueRef:").size() + 36);
    CHECK(a != b);
    CHECK(a != kNullRef);
}
