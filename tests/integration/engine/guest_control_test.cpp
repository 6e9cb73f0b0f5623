// XenstoreGuestControl (VM.call_plugin's write to control/ts) against a real
// xenstored: it writes that one node of a live domain, and nothing at all
// for a domain that is gone, even if its VM record still said Running.
#include <catch2/catch.hpp>

#include <optional>
#include <system_error>

#include <guest_control.hpp>

#include "engine_fixture.hpp"

using namespace xenrdp;
using namespace xenrdp::test;

namespace {

std::optional<std::error_code> request(Engine& engine, daemon::XenstoreGuestControl& control,
                                       std::int64_t domid, bool enable)
{
    std::optional<std::error_code> result;
    control.requestRdp(domid, enable, [&result](std::error_code ec) { result = ec; });
    engine.runUntil([&result] { return result.has_value(); });
    return result;
}

}  // namespace

TEST_CASE("XenstoreGuestControl writes control/ts of a live domain", "[engine][guest_control]")
{
    sandbox::XenstoredSandbox sb;
    sandbox::DomainSpec spec;
    spec.domid = 5;
    spec.name = "win";
    sb.addDomain(spec);
    Engine engine(sb);
    engine.start();
    daemon::XenstoreGuestControl control(*engine.conn);

    auto ec = request(engine, control, 5, true);
    REQUIRE(ec.has_value());
    CHECK_FALSE(*ec);
    CHECK(sb.read(dom(5, "control/ts")) == std::optional<std::string>("1"));
    ec = request(engine, control, 5, false);
    REQUIRE(ec.has_value());
    CHECK_FALSE(*ec);
    CHECK(sb.read(dom(5, "control/ts")) == std::optional<std::string>("0"));
}

TEST_CASE("XenstoreGuestControl writes nothing for a domain that is gone", "[engine][guest_control]")
{
    // The race it guards: call_plugin passed its Running check, then the
    // domain died before the write reached xenstored.  A plain write would
    // recreate /local/domain/<domid>/control/ts for the dead domain.
    sandbox::XenstoredSandbox sb;
    sandbox::DomainSpec spec;
    spec.domid = 5;
    spec.name = "win";
    sb.addDomain(spec);
    Engine engine(sb);
    engine.start();
    daemon::XenstoreGuestControl control(*engine.conn);
    sb.releaseDomain(5);
    REQUIRE_FALSE(sb.read("/local/domain/5").has_value());

    for (std::int64_t domid : {5, 42}) {
        auto ec = request(engine, control, domid, true);
        REQUIRE(ec.has_value());
        CHECK(*ec == std::make_error_code(std::errc::no_such_file_or_directory));
        CHECK_FALSE(sb.read("/local/domain/" + std::to_string(domid)).has_value());
    }
}
