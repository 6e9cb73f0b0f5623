#include <catch2/catch.hpp>

#include <xapi_rpc/console/guest_address.hpp>

using namespace xenrdp::xapi_rpc::console;

TEST_CASE("The guest address prefers IPv4, the ip key, and the lowest device", "[console][unit]")
{
    CHECK(guestAddress({{"1/ip", "192.0.2.2"}, {"0/ipv4/0", "192.0.2.1"}, {"0/ipv6/0", "2001:db8::1"}}) ==
          "192.0.2.1");
    CHECK(guestAddress({{"0/ipv4/0", "192.0.2.9"}, {"0/ip", "192.0.2.1"}}) == "192.0.2.1");
    CHECK(guestAddress({{"0/ipv4/1", "192.0.2.9"}, {"0/ipv4/0", "192.0.2.1"}}) == "192.0.2.1");
    CHECK(guestAddress({{"10/ip", "192.0.2.10"}, {"2/ip", "192.0.2.2"}}) == "192.0.2.2");
    CHECK(guestAddress({{"0/ipv6/0", "2001:db8::1"}}) == "2001:db8::1");
}

TEST_CASE("Guest-written junk and link-local IPv6 are never an address", "[console][unit]")
{
    CHECK_FALSE(guestAddress({}));
    CHECK_FALSE(guestAddress({{"0/ip", "evil.example; rm"}, {"0/ipv6/0", "fe80::1"}, {"x/ip", "192.0.2.1"}}));
    CHECK_FALSE(guestAddress({{"0/ipv4/0", "2001:db8::1"}}));
    CHECK(guestAddress({{"0/ip", "not-an-ip"}, {"1/ip", "192.0.2.5"}}) == "192.0.2.5");
}

TEST_CASE("RDP is on when data-ts is non-zero and locations bracket IPv6", "[console][unit]")
{
    CHECK(rdpReported({{"data-ts", "1"}}));
    CHECK_FALSE(rdpReported({{"data-ts", "0"}}));
    CHECK_FALSE(rdpReported({{"feature-ts", "1"}}));
    CHECK(rdpLocation("192.0.2.1", 3389) == "rdp://192.0.2.1:3389");
    CHECK(rdpLocation("2001:db8::1", 3389) == "rdp://[2001:db8::1]:3389");
}
