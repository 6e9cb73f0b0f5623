#include <catch2/catch.hpp>

#include <chrono>

#include <xapi_rpc/dispatch/wire_records.hpp>

using namespace xenrdp::xapi_rpc::dispatch;

TEST_CASE("ocamlFloat writes floats as OCaml's string_of_float does", "[dispatch][wire]")
{
    CHECK(ocamlFloat(10.0) == "10.");
    CHECK(ocamlFloat(0.0) == "0.");
    CHECK(ocamlFloat(7.5) == "7.5");
    CHECK(ocamlFloat(7.43210987654321) == "7.43210987654");
    CHECK(ocamlFloat(1712345678.0) == "1712345678.");
    CHECK(ocamlFloat(1e20) == "1e+20");
}

TEST_CASE("formatDateTime writes xapi's UTC form", "[dispatch][wire]")
{
    using namespace std::chrono;
    const auto t = system_clock::time_point(seconds(1420070400 + 3600 + 2 * 60 + 3));  // 2015-01-01 01:02:03 UTC
    CHECK(formatDateTime(t) == "20150101T01:02:03Z");
    CHECK(formatDateTime(system_clock::time_point{}) == "19700101T00:00:00Z");
}

TEST_CASE("The default software_version passes XenCenter's gates", "[dispatch][wire]")
{
    const auto sv = defaultSoftwareVersion();
    CHECK(sv.count("xencenter_min") == 0);
    CHECK(sv.count("xencenter_max") == 0);
    REQUIRE(sv.count("platform_version") == 1);
    CHECK(sv.at("platform_version") == "3.2.1");
    CHECK(sv.at("product_version") == "8.2.1");
}
