#include <metrics/records.hpp>

#include <catch2/catch.hpp>

#include <set>
#include <string>

using namespace xenrdp::metrics;

namespace {

/// Lowercase 8-4-4-4-12 hex, version nibble 4, variant 8/9/a/b.  (Checked
/// by hand: GCC 12's std::regex trips -Wmaybe-uninitialized under ASan.)
bool isLowercaseV4Uuid(const std::string& s) {
    if (s.size() != 36) {
        return false;
    }
    for (std::size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-') {
                return false;
            }
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return false;
        }
    }
    return s[14] == '4' && (s[19] == '8' || s[19] == '9' || s[19] == 'a' || s[19] == 'b');
}

}  // namespace

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
    for (int i = 0; i < 100; ++i) {
        const std::string uuid = randomUuid();
        INFO(uuid);
        REQUIRE(isLowercaseV4Uuid(uuid));
    }
    CHECK_FALSE(isLowercaseV4Uuid("00000000-0000-1000-8000-000000000000"));  // the checker can fail
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
