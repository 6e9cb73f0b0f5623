#include <metrics/guest_tree.hpp>

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

using xenrdp::metrics::GuestTree;

namespace {

using Model = std::map<std::string, std::string>;

bool same(const GuestTree& tree, const Model& model)
{
    if (tree.size() != model.size())
        return false;
    auto it = tree.begin();
    for (const auto& [path, value] : model) {
        if ((*it).first != path || (*it).second != value)
            return false;
        ++it;
    }
    return it == tree.end();
}

}  // namespace

TEST_CASE("GuestTree keeps paths sorted and finds them", "[metrics][guest_tree]")
{
    GuestTree tree{{"data/ts", "1"}, {"control/feature-ts2", "1"}, {"attr/vif/0/ipv4/0", "10.0.0.5"}};
    REQUIRE(tree.size() == 3);
    CHECK(tree.begin()->first == "attr/vif/0/ipv4/0");
    CHECK(tree.find("data/ts")->second == "1");
    CHECK(tree.find("data") == tree.end());
    CHECK(tree.lower_bound("control/")->first == "control/feature-ts2");
    CHECK(tree.lower_bound("zzz") == tree.end());
    CHECK(tree.count("control/feature-ts2") == 1);
}

TEST_CASE("GuestTree replaces values, longer and shorter, and erases ranges", "[metrics][guest_tree]")
{
    GuestTree tree{{"data/a", "short"}, {"data/b", "x"}, {"data/b/c", "y"}, {"data/d", "z"}};
    tree.insert_or_assign("data/a", "a value longer than the one it replaces");
    tree.insert_or_assign("data/b", "");
    CHECK(tree.find("data/a")->second == "a value longer than the one it replaces");
    CHECK(tree.find("data/b")->second.empty());
    tree.erase(tree.lower_bound("data/b/"), tree.lower_bound("data/b/\x7f"));
    CHECK(tree.erase("data/b") == 1);
    CHECK(tree.erase("data/b") == 0);
    CHECK(tree == GuestTree{{"data/a", "a value longer than the one it replaces"}, {"data/d", "z"}});
}

TEST_CASE("GuestTree merges a sorted run into the gap and keeps no slack", "[metrics][guest_tree]")
{
    GuestTree tree{{"attr/x", "1"}, {"data/ts", "0"}};
    tree.mergeSorted({{"control/feature-ts", "1"}, {"control/feature-ts2", "1"}, {"zz", "last"}});
    CHECK(tree == GuestTree{{"attr/x", "1"},
                            {"control/feature-ts", "1"},
                            {"control/feature-ts2", "1"},
                            {"data/ts", "0"},
                            {"zz", "last"}});
    // A small tree holds its bytes and nodes without spare room.
    std::size_t bytes = 0;
    for (const auto [path, value] : tree)
        bytes += path.size() + value.size();
    CHECK(tree.capacityBytes() <= bytes + 5 * 16 + 15);
}

TEST_CASE("GuestTree merge replaces paths it holds, and a path given twice keeps its last value",
          "[metrics][guest_tree]")
{
    GuestTree tree{{"data/a", "old"}, {"data/c", "kept"}};
    tree.mergeSorted({{"data/a", "first"}, {"data/a", "new"}, {"data/b", "added"}});
    CHECK(tree == GuestTree{{"data/a", "new"}, {"data/b", "added"}, {"data/c", "kept"}});
}

TEST_CASE("GuestTree agrees with a std::map under random changes", "[metrics][guest_tree]")
{
    std::mt19937 random(20261130);
    // Few distinct paths, so that changes hit existing nodes often; values of
    // every length up to past the small-tree bound, so both regimes run.
    const auto path = [&random] {
        return "k/" + std::to_string(random() % 40) + (random() % 3 == 0 ? "/sub" : "");
    };
    const auto value = [&random] { return std::string(random() % 3 == 0 ? random() % 900 : random() % 8, 'v'); };
    GuestTree tree;
    Model model;
    for (int step = 0; step < 20000; ++step) {
        switch (random() % 4) {
        case 0: {
            const std::string p = path();
            const std::string v = value() + std::to_string(step);
            tree.insert_or_assign(p, v);
            model[p] = v;
            break;
        }
        case 1: {
            const std::string p = path();
            CHECK(tree.erase(p) == model.erase(p));
            break;
        }
        case 2: {
            // A subtree goes, as when a read result replaces it.
            const std::string prefix = "k/" + std::to_string(random() % 40) + "/";
            tree.erase(tree.lower_bound(prefix), tree.lower_bound(prefix + "\x7f"));
            model.erase(model.lower_bound(prefix), model.lower_bound(prefix + "\x7f"));
            break;
        }
        default: {
            // New paths and paths the tree holds, as a read result brings.
            std::map<std::string, std::string> merged;
            for (int i = 0; i < 5; ++i)
                merged[path()] = value();
            tree.mergeSorted({merged.begin(), merged.end()});
            for (const auto& [p, v] : merged)
                model[p] = v;
            break;
        }
        }
        if (!same(tree, model)) {
            FAIL("tree and model differ after step " << step);
        }
    }
    tree.clear();
    CHECK(tree.empty());
    CHECK(tree.capacityBytes() <= 15);
}
