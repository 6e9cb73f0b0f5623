// Strict parsing of what reaches the DomainWatcher from xenstore.
#include <catch2/catch.hpp>

#include "domain_paths.hpp"

using namespace xenrdp::daemon::detail;

TEST_CASE("parseDomid accepts canonical decimal domids only", "[daemon][unit]")
{
    CHECK(parseDomid("0") == std::optional<std::uint32_t>(0));
    CHECK(parseDomid("17") == std::optional<std::uint32_t>(17));
    CHECK(parseDomid("32751") == std::optional<std::uint32_t>(32751));
    CHECK_FALSE(parseDomid("32752"));  // DOMID_FIRST_RESERVED
    CHECK_FALSE(parseDomid("007"));
    CHECK_FALSE(parseDomid("-1"));
    CHECK_FALSE(parseDomid("+1"));
    CHECK_FALSE(parseDomid("1a"));
    CHECK_FALSE(parseDomid(""));
    CHECK_FALSE(parseDomid("99999999999999999999"));
}

TEST_CASE("normalizeUuid lowercases a valid uuid and rejects anything else", "[daemon][unit]")
{
    CHECK(normalizeUuid("0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0") ==
          std::optional<std::string>("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"));
    CHECK_FALSE(normalizeUuid("0f1e2d3c4b5a-6978-8796-a5b4c3d2e1f0-"));
    CHECK_FALSE(normalizeUuid("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1fg"));
    CHECK_FALSE(normalizeUuid("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f"));
    CHECK_FALSE(normalizeUuid(std::string("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f\0", 36)));
}

TEST_CASE("vmPathId takes one plain component after /vm/", "[daemon][unit]")
{
    CHECK(vmPathId("/vm/abc-1_2") == std::optional<std::string>("abc-1_2"));
    CHECK_FALSE(vmPathId("/vm/"));
    CHECK_FALSE(vmPathId("/vm/a/b"));
    CHECK_FALSE(vmPathId("/vm/../etc"));
    CHECK_FALSE(vmPathId("/local/domain/0"));
    CHECK_FALSE(vmPathId("vm/abc"));
    CHECK_FALSE(vmPathId("/vm/" + std::string(65, 'a')));
}

TEST_CASE("parseDomainPath splits a well-formed path below /local/domain", "[daemon][unit]")
{
    auto p = parseDomainPath("/local/domain/5/control/feature-ts2");
    REQUIRE(p);
    CHECK(p->domid == 5);
    CHECK(p->rel == "control/feature-ts2");
    auto root = parseDomainPath("/local/domain/5");
    REQUIRE(root);
    CHECK(root->rel.empty());
}

TEST_CASE("parseDomainPath rejects malformed or foreign paths", "[daemon][unit]")
{
    CHECK_FALSE(parseDomainPath("/local/domain/05/control"));
    CHECK_FALSE(parseDomainPath("/local/domain/5/"));
    CHECK_FALSE(parseDomainPath("/local/domain/5//control"));
    CHECK_FALSE(parseDomainPath("/local/domain/5/control/"));
    CHECK_FALSE(parseDomainPath("/local/domain/5/control/a b"));
    CHECK_FALSE(parseDomainPath("/local/domain/5/../6/control"));
    CHECK_FALSE(parseDomainPath("/local/domain/x/control"));
    CHECK_FALSE(parseDomainPath("/vm/5/control"));
    CHECK_FALSE(parseDomainPath("@introduceDomain"));
}

TEST_CASE("An event at a watched base lists the base", "[daemon][unit]")
{
    CHECK(readForEvent("control") == std::optional<ReadOp>(ReadOp{"control", 1}));
    CHECK(readForEvent("attr") == std::optional<ReadOp>(ReadOp{"attr", 4}));
    CHECK(readForEvent("data/ts") == std::optional<ReadOp>(ReadOp{"data/ts", 0}));
    CHECK(readForEvent("feature/hotplug") == std::optional<ReadOp>(ReadOp{"feature/hotplug", 1}));
    CHECK(readForEvent("data/service") == std::optional<ReadOp>(ReadOp{"data/service", 2}));
    CHECK(readForEvent("xenserver/attr") == std::optional<ReadOp>(ReadOp{"xenserver/attr", 4}));
}

TEST_CASE("An event below a base reads the node cut to the base's depth", "[daemon][unit]")
{
    CHECK(readForEvent("control/ts") == std::optional<ReadOp>(ReadOp{"control/ts", 0}));
    CHECK(readForEvent("control/batcmd/state") ==
          std::optional<ReadOp>(ReadOp{"control/batcmd", 0}));
    CHECK(readForEvent("attr/vif/0/ipv4/0") ==
          std::optional<ReadOp>(ReadOp{"attr/vif/0/ipv4/0", 0}));
    CHECK(readForEvent("attr/vif/0") == std::optional<ReadOp>(ReadOp{"attr/vif/0", 2}));
    CHECK(readForEvent("attr/a/b/c/d/e/f") == std::optional<ReadOp>(ReadOp{"attr/a/b/c/d", 0}));
    CHECK(readForEvent("data/ts/x") == std::optional<ReadOp>(ReadOp{"data/ts", 0}));
    CHECK(readForEvent("data/service/sshd/state") ==
          std::optional<ReadOp>(ReadOp{"data/service/sshd/state", 0}));
    CHECK(readForEvent("data/service/sshd") == std::optional<ReadOp>(ReadOp{"data/service/sshd", 1}));
    CHECK(readForEvent("xenserver/attr/net-sriov-vf/1/ipv4/0") ==
          std::optional<ReadOp>(ReadOp{"xenserver/attr/net-sriov-vf/1/ipv4/0", 0}));
}

TEST_CASE("Events outside the watched subtrees read nothing", "[daemon][unit]")
{
    CHECK_FALSE(readForEvent("data/meminfo_free"));
    CHECK_FALSE(readForEvent("controlx"));
    CHECK_FALSE(readForEvent("attr/os/hotfixes/0"));
    CHECK_FALSE(readForEvent("feature/other"));
    CHECK_FALSE(readForEvent("drivers/0"));  // re-read with the extras, not watched
    CHECK_FALSE(readForEvent("xenserver/other"));
    CHECK_FALSE(readForEvent(""));
}

TEST_CASE("Listing roots are the watched bases, attr/PVAddons and drivers", "[daemon][unit]")
{
    CHECK(isListingRoot("control"));
    CHECK(isListingRoot("data/service"));
    CHECK(isListingRoot("xenserver/attr"));
    CHECK(isListingRoot("attr/PVAddons"));
    CHECK(isListingRoot("drivers"));
    CHECK_FALSE(isListingRoot("control/ts"));
    CHECK_FALSE(isListingRoot("data/os_name"));
}

TEST_CASE("watchedBaseOf names the watched subtree a path lies in", "[daemon][unit]")
{
    CHECK(watchedBaseOf("control") == std::optional<std::string_view>("control"));
    CHECK(watchedBaseOf("control/batcmd/state") == std::optional<std::string_view>("control"));
    CHECK(watchedBaseOf("attr/vif/0/ipv4/0") == std::optional<std::string_view>("attr"));
    CHECK(watchedBaseOf("data/service/sshd") == std::optional<std::string_view>("data/service"));
    CHECK_FALSE(watchedBaseOf("data/os_name"));
    CHECK_FALSE(watchedBaseOf("drivers/0"));
    CHECK_FALSE(watchedBaseOf("controlx"));
}

TEST_CASE("covers: a listing covers the reads its depth reaches, and no more", "[daemon][unit]")
{
    CHECK(covers(ReadOp{"attr", 4}, ReadOp{"attr/PVAddons", 3}));
    CHECK(covers(ReadOp{"attr", 4}, ReadOp{"attr/vif/0", 2}));
    CHECK_FALSE(covers(ReadOp{"attr", 4}, ReadOp{"attr/vif/0", 3}));  // one level too deep
    CHECK(covers(ReadOp{"control", 1}, ReadOp{"control/ts", 0}));
    CHECK_FALSE(covers(ReadOp{"control", 0}, ReadOp{"control/ts", 0}));  // a node, not a listing
    CHECK_FALSE(covers(ReadOp{"data/ts", 0}, ReadOp{"data/tsx", 0}));
    CHECK_FALSE(covers(ReadOp{"data", 1}, ReadOp{"data-x/y", 0}));  // a prefix, not a parent
    CHECK(covers(ReadOp{"data/ts", 0}, ReadOp{"data/ts", 0}));
    CHECK(covers(ReadOp{"attr", 4}, ReadOp{"attr", 2}));
    CHECK_FALSE(covers(ReadOp{"attr", 2}, ReadOp{"attr", 4}));
}

TEST_CASE("withoutCovered keeps the order and drops what another op reads", "[daemon][unit]")
{
    // The discovery list: the attr listing makes the extra attr/PVAddons
    // listing redundant, wherever it comes in the list.
    const std::vector<ReadOp> ops = {{"control", 1},      {"data/ts", 0},  {"attr", 4},
                                     {"data/os_name", 0}, {"attr/PVAddons", 3}, {"drivers", 1}};
    const std::vector<ReadOp> expected = {{"control", 1}, {"data/ts", 0}, {"attr", 4},
                                          {"data/os_name", 0}, {"drivers", 1}};
    CHECK(withoutCovered(ops) == expected);
    std::vector<ReadOp> reversed(ops.rbegin(), ops.rend());
    std::vector<ReadOp> expectedReversed(expected.rbegin(), expected.rend());
    CHECK(withoutCovered(reversed) == expectedReversed);
    // Of two equal ops the first stays; a deeper one replaces a shallower.
    CHECK(withoutCovered({{"control", 1}, {"control", 1}}) == std::vector<ReadOp>{{"control", 1}});
    CHECK(withoutCovered({{"attr", 2}, {"attr", 4}}) == std::vector<ReadOp>{{"attr", 4}});
    CHECK(withoutCovered({}).empty());
}

TEST_CASE("watchedBases fits the watch key's three bits of index", "[daemon][unit]")
{
    // DomainWatcher packs a guest watch's index in watchedBases() into 3 bits.
    CHECK(watchedBases().size() <= 8);
}
