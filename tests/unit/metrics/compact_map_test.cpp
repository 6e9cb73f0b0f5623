#include <metrics/compact_map.hpp>

#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

#include <catch2/catch.hpp>

using xenrdp::metrics::CompactMap;
using xenrdp::metrics::StringMap;

namespace {

bool same(const CompactMap& map, const StringMap& model)
{
    if (map.size() != model.size() || map.empty() != model.empty())
        return false;
    auto it = map.begin();
    for (const auto& [key, value] : model) {
        if (it == map.end() || it->first != key || (*it).second != value)
            return false;
        ++it;
    }
    return it == map.end();
}

std::string randomString(std::mt19937& rng, std::size_t maxLength)
{
    std::uniform_int_distribution<std::size_t> length(0, maxLength);
    std::uniform_int_distribution<int> byte(0, 255);
    std::string s(length(rng), '\0');
    for (char& c : s)
        c = static_cast<char>(byte(rng) % 5 == 0 ? 'a' + byte(rng) % 3 : byte(rng));
    return s;
}

}  // namespace

TEST_CASE("CompactMap keeps a map's pairs in order and finds them", "[metrics][compact_map]")
{
    const StringMap source{{"feature-ts2", "1"},
                           {"platform-feature-multiprocessor-suspend", "1"},
                           {"data-ts", "0"},
                           {"has-vendor-device", ""}};
    const CompactMap map(source);
    REQUIRE(map.size() == 4);
    CHECK(same(map, source));
    CHECK(map.begin()->first == "data-ts");
    CHECK(map.at("platform-feature-multiprocessor-suspend") == "1");
    CHECK(map.find("has-vendor-device")->second.empty());
    CHECK(map.count("feature-ts2") == 1);
    CHECK(map.count("feature-ts") == 0);
    CHECK(map.find("zzz") == map.end());
    CHECK(map.find("") == map.end());
    CHECK_THROWS_AS(map.at("feature-ts"), std::out_of_range);
    CHECK(map.toStringMap() == source);
}

TEST_CASE("An empty CompactMap holds no heap block", "[metrics][compact_map]")
{
    const CompactMap none;
    CHECK(none.empty());
    CHECK(none.blockBytes() == 0);
    CHECK(none.begin() == none.end());
    CHECK(none.find("a") == none.end());
    CHECK(CompactMap(StringMap{}).blockBytes() == 0);
    CHECK(none == CompactMap(StringMap{}));
    // One pair: the count, three offsets, and the bytes rounded up to a word.
    CHECK(CompactMap{{"ab", "cde"}}.blockBytes() == 4 * 4 + 8);
}

TEST_CASE("CompactMap compares by content, not by where the bytes split", "[metrics][compact_map]")
{
    const CompactMap a{{"ab", "c"}};
    CHECK(a == CompactMap{{"ab", "c"}});
    CHECK_FALSE(a == CompactMap{{"a", "bc"}});  // the same bytes, split elsewhere
    CHECK_FALSE(a == CompactMap{{"ab", "d"}});
    CHECK_FALSE(a == CompactMap{{"ab", "c"}, {"b", ""}});
    CHECK_FALSE(a == CompactMap{});
    // A record field compares with a StringMap through the conversion.
    CHECK(a == StringMap{{"ab", "c"}});
}

TEST_CASE("CompactMap copies, moves and derives edited copies", "[metrics][compact_map]")
{
    CompactMap original{{"0/ip", "10.0.0.5"}, {"0/ipv4/0", "10.0.0.5"}};
    CompactMap copy = original;
    CHECK(copy == original);
    CHECK(copy.begin()->first.data() != original.begin()->first.data());  // its own block

    CompactMap edited = original.with("0/ip", "10.0.0.6").with("1/ip", "192.0.2.1");
    CHECK(same(edited, {{"0/ip", "10.0.0.6"}, {"0/ipv4/0", "10.0.0.5"}, {"1/ip", "192.0.2.1"}}));
    CHECK(original.at("0/ip") == "10.0.0.5");  // unchanged

    CompactMap moved = std::move(copy);
    CHECK(moved == original);
    copy = moved;
    CHECK(copy == original);
    const CompactMap& self = copy;
    copy = self;  // self-assignment keeps it
    CHECK(copy == original);

    // Later duplicates win, as assignments would.
    CHECK(same(CompactMap{{"k", "1"}, {"k", "2"}}, {{"k", "2"}}));
}

TEST_CASE("CompactMap prints as a map for failure messages", "[metrics][compact_map]")
{
    std::ostringstream out;
    out << CompactMap{{"b", "2"}, {"a", "1"}};
    CHECK(out.str() == R"({"a": "1", "b": "2"})");
}

TEST_CASE("CompactMap agrees with StringMap on random maps of arbitrary bytes", "[metrics][compact_map]")
{
    std::mt19937 rng(20261130);
    for (int round = 0; round < 2000; ++round) {
        StringMap model;
        std::uniform_int_distribution<int> entries(0, 12);
        const int n = entries(rng);
        for (int i = 0; i < n; ++i)
            model.insert_or_assign(randomString(rng, 6), randomString(rng, 40));
        const CompactMap map(model);
        INFO("round " << round);
        REQUIRE(same(map, model));
        for (const auto& [key, value] : model)
            REQUIRE(map.at(key) == value);
        const std::string probe = randomString(rng, 6);
        REQUIRE(map.count(probe) == model.count(probe));
        // Equality matches the model's, also for maps differing in one byte.
        StringMap other = model;
        if (!other.empty() && round % 2 == 0)
            other.begin()->second += 'x';
        REQUIRE((CompactMap(other) == map) == (other == model));
    }
}
