#include <metrics/guest_rules.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <string>

using namespace xenrdp::metrics;

namespace {

/// What xenopsd writes below control/ for every domain, agent or not
/// (reference xapi-rdp-and-wire.md §3.2).
GuestTree toolstackKeys() {
    return {
        {"control/platform-feature-multiprocessor-suspend", "1"},
        {"control/platform-feature-xs_reset_watches", "1"},
        {"control/has-vendor-device", "0"},
    };
}

GuestTree merged(GuestTree base, const GuestTree& extra) {
    for (const auto [key, value] : extra) {
        base.insert_or_assign(key, value);
    }
    return base;
}

}  // namespace

// ------------------------------------------------------------------- other

TEST_CASE("A current Windows agent's control keys and data/ts make up other",
          "[metrics][guest_rules]") {
    const GuestTree tree = merged(toolstackKeys(), {
        {"control/feature-shutdown", "1"},
        {"control/feature-poweroff", "1"},
        {"control/feature-reboot", "1"},
        {"control/feature-suspend", "1"},
        {"control/feature-ts", "1"},
        {"control/feature-ts2", "1"},
        {"control/feature-xs-batcmd", "1"},
        {"data/ts", "1"},
        {"data/updated", "1"},
        {"data/os_name", "Microsoft Windows Server 2022"},
    });

    const StringMap expected = {
        {"platform-feature-multiprocessor-suspend", "1"},
        {"platform-feature-xs_reset_watches", "1"},
        {"has-vendor-device", "0"},
        {"feature-shutdown", "1"},
        {"feature-poweroff", "1"},
        {"feature-reboot", "1"},
        {"feature-suspend", "1"},
        {"feature-ts", "1"},
        {"feature-ts2", "1"},
        {"feature-xs-batcmd", "1"},
        {"data-ts", "1"},
    };
    const auto fields = deriveGuestFields(tree);
    CHECK(fields.other == expected);
    CHECK(fields.pvDriversDetected);
}

TEST_CASE("An old agent advertising only feature-ts gives feature-ts without feature-ts2 or data-ts",
          "[metrics][guest_rules]") {
    const GuestTree tree = merged(toolstackKeys(), {
        {"control/feature-ts", "1"},
        {"control/feature-shutdown", "1"},
    });

    const StringMap expected = {
        {"platform-feature-multiprocessor-suspend", "1"},
        {"platform-feature-xs_reset_watches", "1"},
        {"has-vendor-device", "0"},
        {"feature-ts", "1"},
        {"feature-shutdown", "1"},
    };
    const auto fields = deriveGuestFields(tree);
    CHECK(fields.other == expected);
    CHECK(fields.other.count("feature-ts2") == 0);
    CHECK(fields.other.count("data-ts") == 0);
}

TEST_CASE("A guest without agent gets only the toolstack keys and no PV drivers",
          "[metrics][guest_rules]") {
    const auto fields = deriveGuestFields(toolstackKeys());

    const StringMap expected = {
        {"platform-feature-multiprocessor-suspend", "1"},
        {"platform-feature-xs_reset_watches", "1"},
        {"has-vendor-device", "0"},
    };
    CHECK(fields.other == expected);
    CHECK_FALSE(fields.pvDriversDetected);
    CHECK(fields.osVersion.empty());
    CHECK(fields.pvDriversVersion.empty());
    CHECK(fields.networks.empty());
    CHECK(fields.netbiosName.empty());
    CHECK(fields.services.empty());
    CHECK(fields.canUseHotplugVbd == Tristate::Unspecified);
    CHECK(fields.canUseHotplugVif == Tristate::Unspecified);
}

TEST_CASE("An empty tree gives empty guest fields", "[metrics][guest_rules]") {
    CHECK(deriveGuestFields({}) == GuestFields{});
}

TEST_CASE("The transient control/ts request shows as other[ts]", "[metrics][guest_rules]") {
    const auto fields = deriveGuestFields({{"control/ts", "1"}, {"control/feature-ts2", "1"}});
    CHECK(fields.other.at("ts") == "1");
}

TEST_CASE("Only direct children of control/ enter other, with their node value",
          "[metrics][guest_rules]") {
    const auto fields = deriveGuestFields({
        {"control/batcmd", ""},
        {"control/batcmd/state", "done"},
        {"control/batcmd/0/out", "x"},
        {"control/feature-ts", "1"},
        {"controller/ts", "1"},
        {"data/other", "not copied"},
    });
    const StringMap expected = {{"batcmd", ""}, {"feature-ts", "1"}};
    CHECK(fields.other == expected);
}

TEST_CASE("data/cant_suspend_reason replaces feature-suspend in other", "[metrics][guest_rules]") {
    const auto fields = deriveGuestFields({
        {"control/feature-suspend", "1"},
        {"control/feature-ts", "1"},
        {"data/cant_suspend_reason", "PV drivers out of date"},
    });
    const StringMap expected = {
        {"data-cant-suspend-reason", "PV drivers out of date"},
        {"feature-ts", "1"},
    };
    CHECK(fields.other == expected);
}

TEST_CASE("data/cant_suspend_reason alone adds nothing to other", "[metrics][guest_rules]") {
    const auto fields = deriveGuestFields({{"data/cant_suspend_reason", "busy"}});
    CHECK(fields.other.empty());
}

TEST_CASE("data/ts wins over a guest-written control/data-ts", "[metrics][guest_rules]") {
    const auto fields = deriveGuestFields({{"control/data-ts", "1"}, {"data/ts", "0"}});
    CHECK(fields.other.at("data-ts") == "0");
}

TEST_CASE("other keeps at most maxKeysPerTree keys, the lexicographically first",
          "[metrics][guest_rules]") {
    GuestTree tree;
    for (int i = 0; i < 300; ++i) {
        std::string number = std::to_string(i);
        number.insert(0, 3 - number.size(), '0');
        tree.insert_or_assign("control/k" + number, "v");
    }
    GuestLimits limits;
    limits.maxKeysPerTree = 256;
    const auto fields = deriveGuestFields(tree, limits);
    REQUIRE(fields.other.size() == 256);
    CHECK(fields.other.begin()->first == "k000");
    CHECK(fields.other.rbegin()->first == "k255");
}

// ---------------------------------------------------------------- networks

TEST_CASE("The per-VIF layout gives ipv4/ipv6 keys and <n>/ip from the lowest ipv4 index",
          "[metrics][guest_rules]") {
    const auto fields = deriveGuestFields({
        {"attr/vif/0/ipv4/10", "10.0.0.10"},
        {"attr/vif/0/ipv4/2", "10.0.0.2"},
        {"attr/vif/0/ipv6/0", "fe80::1"},
        {"attr/vif/0/ipv6/1", "2001:db8::1"},
        {"attr/vif/1/ipv6/0", "fe80::2"},
    });
    const StringMap expected = {
        {"0/ip", "10.0.0.2"},
        {"0/ipv4/2", "10.0.0.2"},
        {"0/ipv4/10", "10.0.0.10"},
        {"0/ipv6/0", "fe80::1"},
        {"0/ipv6/1", "2001:db8::1"},
        {"1/ipv6/0", "fe80::2"},
    };
    CHECK(fields.networks == expected);
}

TEST_CASE("The per-VIF layout ignores non-numeric ip indices and other subkeys",
          "[metrics][guest_rules]") {
    const auto fields = deriveGuestFields({
        {"attr/vif/0/ipv4/x", "10.9.9.9"},
        {"attr/vif/0/ipv4/-1", "10.9.9.8"},
        {"attr/vif/0/ipv4/1", "10.0.0.1"},
        {"attr/vif/0/mac", "00:16:3e:00:00:01"},
        {"attr/vif/0/name", "Ethernet"},
    });
    const StringMap expected = {{"0/ip", "10.0.0.1"}, {"0/ipv4/1", "10.0.0.1"}};
    CHECK(fields.networks == expected);
}

TEST_CASE("The legacy layout maps ethN/ip to N/ip and N/ipv4/0 and ipv6 addr keys",
          "[metrics][guest_rules]") {
    const auto fields = deriveGuestFields({
        {"attr/eth0/ip", "192.168.1.5"},
        {"attr/eth0/ipv6/0/addr", "fe80::5"},
        {"attr/eth0/ipv6/1/addr", "2001:db8::5"},
        {"attr/xenbr1/ip", "192.168.2.5"},
        {"attr/ens3/ip", "192.168.3.5"},
        {"attr/eno4/ip", "192.168.4.5"},
        {"attr/emp5/ip", "192.168.5.5"},
        {"attr/enx6/ip", "192.168.6.5"},
        {"attr/wlan7/ip", "192.168.7.5"},
        {"attr/PVAddons/MajorVersion", "7"},
    });
    const StringMap expected = {
        {"0/ip", "192.168.1.5"},    {"0/ipv4/0", "192.168.1.5"},
        {"0/ipv6/0", "fe80::5"},    {"0/ipv6/1", "2001:db8::5"},
        {"1/ip", "192.168.2.5"},    {"1/ipv4/0", "192.168.2.5"},
        {"3/ip", "192.168.3.5"},    {"3/ipv4/0", "192.168.3.5"},
        {"4/ip", "192.168.4.5"},    {"4/ipv4/0", "192.168.4.5"},
        {"5/ip", "192.168.5.5"},    {"5/ipv4/0", "192.168.5.5"},
        {"6/ip", "192.168.6.5"},    {"6/ipv4/0", "192.168.6.5"},
    };
    CHECK(fields.networks == expected);
}

TEST_CASE("The per-VIF layout, when present, replaces the legacy one", "[metrics][guest_rules]") {
    const auto fields = deriveGuestFields({
        {"attr/eth0/ip", "192.168.1.5"},
        {"attr/vif/0/ipv4/0", "10.0.0.5"},
    });
    const StringMap expected = {{"0/ip", "10.0.0.5"}, {"0/ipv4/0", "10.0.0.5"}};
    CHECK(fields.networks == expected);
}

TEST_CASE("SR-IOV virtual functions under xenserver/attr add network keys",
          "[metrics][guest_rules]") {
    const auto fields = deriveGuestFields({
        {"attr/vif/0/ipv4/0", "10.0.0.5"},
        {"xenserver/attr/net-sriov-vf/3/ipv4/0", "10.1.0.7"},
    });
    const StringMap expected = {
        {"0/ip", "10.0.0.5"},
        {"0/ipv4/0", "10.0.0.5"},
        {"3/ip", "10.1.0.7"},
        {"3/ipv4/0", "10.1.0.7"},
    };
    CHECK(fields.networks == expected);
}

TEST_CASE("networks keeps at most maxKeysPerTree keys", "[metrics][guest_rules]") {
    GuestTree tree;
    for (int i = 0; i < 100; ++i) {
        tree.insert_or_assign("attr/vif/0/ipv4/" + std::to_string(i), "10.0.0.1");
    }
    GuestLimits limits;
    limits.maxKeysPerTree = 10;
    const auto fields = deriveGuestFields(tree, limits);
    CHECK(fields.networks.size() == 10);
    CHECK(fields.networks.count("0/ip") == 1);
}

// ----------------------------------------------- os, drivers, names, flags

TEST_CASE("os_version is built from data/os_* and attr/os/sp*", "[metrics][guest_rules]") {
    const auto fields = deriveGuestFields({
        {"data/os_name", "Microsoft Windows 10 Pro|C:\\Windows|\\Device\\Harddisk0\\Partition2"},
        {"data/os_uname", "10.0.19045"},
        {"data/os_distro", "windows"},
        {"data/os_majorver", "10"},
        {"data/os_minorver", "0"},
        {"attr/os/spmajor", "0"},
        {"attr/os/spminor", "0"},
        {"data/os_other", "ignored"},
    });
    const StringMap expected = {
        {"name", "Microsoft Windows 10 Pro|C:\\Windows|\\Device\\Harddisk0\\Partition2"},
        {"uname", "10.0.19045"},
        {"distro", "windows"},
        {"major", "10"},
        {"minor", "0"},
        {"spmajor", "0"},
        {"spminor", "0"},
    };
    CHECK(fields.osVersion == expected);
}

TEST_CASE("PV_drivers_version is built from attr/PVAddons", "[metrics][guest_rules]") {
    const auto fields = deriveGuestFields({
        {"attr/PVAddons/MajorVersion", "9"},
        {"attr/PVAddons/MinorVersion", "3"},
        {"attr/PVAddons/MicroVersion", "1"},
        {"attr/PVAddons/BuildVersion", "123"},
        {"attr/PVAddons/Application", "XenServer VM Tools"},
    });
    const StringMap expected = {
        {"major", "9"}, {"minor", "3"}, {"micro", "1"}, {"build", "123"},
        {"application", "XenServer VM Tools"},
    };
    CHECK(fields.pvDriversVersion == expected);
    CHECK(fields.pvDriversDetected);
}

TEST_CASE("PV_drivers_version defaults micro to -1 when other version keys exist",
          "[metrics][guest_rules]") {
    const auto fields = deriveGuestFields({
        {"attr/PVAddons/MajorVersion", "6"},
        {"attr/PVAddons/MinorVersion", "2"},
    });
    const StringMap expected = {{"major", "6"}, {"minor", "2"}, {"micro", "-1"}};
    CHECK(fields.pvDriversVersion == expected);
}

TEST_CASE("PV_drivers_version lists Windows drivers/<i> entries by lowercase name",
          "[metrics][guest_rules]") {
    const auto fields = deriveGuestFields({
        {"drivers/0", "XenServer XENBUS 9.1.9.105 "},
        {"drivers/1", "XenServer XENVBD 9.1.8.79 debug"},
        {"drivers/x", "XenServer XENNET 1.0 "},
        {"drivers/2", "garbage"},
    });
    const StringMap expected = {
        {"xenbus", "XenServer 9.1.9.105 "},
        {"xenvbd", "XenServer 9.1.8.79 debug"},
        {"micro", "-1"},
    };
    CHECK(fields.pvDriversVersion == expected);
}

TEST_CASE("netbios_name is data/host_name_dns, suffixed with data/domain when present",
          "[metrics][guest_rules]") {
    SECTION("without domain") {
        const auto fields = deriveGuestFields({{"data/host_name_dns", "WIN-01"}});
        CHECK(fields.netbiosName == StringMap{{"host_name", "WIN-01"}});
    }
    SECTION("with domain") {
        const auto fields = deriveGuestFields(
            {{"data/host_name_dns", "WIN-01"}, {"data/domain", "corp.example"}});
        CHECK(fields.netbiosName == StringMap{{"host_name", "WIN-01.corp.example"}});
    }
    SECTION("domain without host name") {
        const auto fields = deriveGuestFields({{"data/domain", "corp.example"}});
        CHECK(fields.netbiosName.empty());
    }
}

TEST_CASE("services maps data/service/<s>/<k> to <s>/<k> and ignores other depths",
          "[metrics][guest_rules]") {
    const auto fields = deriveGuestFields({
        {"data/service", ""},
        {"data/service/rdp", ""},
        {"data/service/rdp/port", "3389"},
        {"data/service/rdp/enabled", "1"},
        {"data/service/ssh/deep/key", "x"},
        {"data/serviceX/a/b", "x"},
    });
    const StringMap expected = {{"rdp/port", "3389"}, {"rdp/enabled", "1"}};
    CHECK(fields.services == expected);
}

TEST_CASE("can_use_hotplug_vbd/vif follow feature/hotplug: 1 yes, 0 no, else unspecified",
          "[metrics][guest_rules]") {
    const auto yesNo = deriveGuestFields({{"feature/hotplug/vbd", "1"}, {"feature/hotplug/vif", "0"}});
    CHECK(yesNo.canUseHotplugVbd == Tristate::Yes);
    CHECK(yesNo.canUseHotplugVif == Tristate::No);

    const auto other = deriveGuestFields({{"feature/hotplug/vbd", "true"}});
    CHECK(other.canUseHotplugVbd == Tristate::Unspecified);
    CHECK(other.canUseHotplugVif == Tristate::Unspecified);
}

TEST_CASE("PV drivers count as detected for agent keys but not for toolstack keys",
          "[metrics][guest_rules]") {
    CHECK_FALSE(deriveGuestFields(toolstackKeys()).pvDriversDetected);
    CHECK_FALSE(deriveGuestFields({{"feature/hotplug/vbd", "1"}}).pvDriversDetected);
    CHECK(deriveGuestFields({{"control/feature-ts", "1"}}).pvDriversDetected);
    CHECK(deriveGuestFields({{"attr/PVAddons/MajorVersion", "9"}}).pvDriversDetected);
    CHECK(deriveGuestFields({{"data/updated", "1"}}).pvDriversDetected);
    CHECK(deriveGuestFields({{"drivers/0", "XenServer XENBUS 9 "}}).pvDriversDetected);
}

// ------------------------------------------------------ applyGuestFields

TEST_CASE("applyGuestFields moves last_updated only when a field changes",
          "[metrics][guest_rules]") {
    using std::chrono::seconds;
    const TimePoint t0{seconds(1000)};
    const TimePoint t1{seconds(2000)};
    const TimePoint t2{seconds(3000)};

    GuestMetricsRecord record;
    record.uuid = "gm-uuid";
    record.lastUpdated = t0;

    auto fields = deriveGuestFields({{"control/feature-ts", "1"}, {"data/ts", "0"}});
    CHECK(applyGuestFields(record, fields, t1));
    CHECK(record.lastUpdated == t1);
    CHECK(record.other.at("data-ts") == "0");
    CHECK(record.pvDriversDetected);
    CHECK(record.pvDriversUpToDate);
    CHECK(record.uuid == "gm-uuid");

    CHECK_FALSE(applyGuestFields(record, fields, t2));
    CHECK(record.lastUpdated == t1);

    fields.other["data-ts"] = "1";
    CHECK(applyGuestFields(record, fields, t2));
    CHECK(record.lastUpdated == t2);
    CHECK(record.other.at("data-ts") == "1");
}

TEST_CASE("applyGuestFields notices a change of a tristate field alone", "[metrics][guest_rules]") {
    GuestMetricsRecord record;
    GuestFields fields;
    CHECK_FALSE(applyGuestFields(record, fields, TimePoint{std::chrono::seconds(5)}));
    fields.canUseHotplugVif = Tristate::Yes;
    CHECK(applyGuestFields(record, fields, TimePoint{std::chrono::seconds(5)}));
    CHECK(record.canUseHotplugVif == Tristate::Yes);
    CHECK(record.lastUpdated == TimePoint{std::chrono::seconds(5)});
}
