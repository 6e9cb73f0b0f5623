#include <metrics/guest_rules.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <random>
#include <string>

using namespace xenrdp::metrics;

namespace {

const std::string kFffd = "\xEF\xBF\xBD";  // U+FFFD in UTF-8

std::string repeat(const std::string& s, std::size_t n) {
    std::string out;
    for (std::size_t i = 0; i < n; ++i) {
        out += s;
    }
    return out;
}

/// Sanitizes with a generous bound and reports whether anything changed.
std::string clean(const std::string& raw, bool& changed) {
    return sanitizeGuestValue(raw, 1 << 20, &changed);
}

}  // namespace

TEST_CASE("Valid UTF-8 of every length passes unchanged", "[metrics][sanitizer]") {
    // ASCII, 2-byte (é), 3-byte (€, 中), 4-byte (😀 U+1F600, U+10FFFF), plus tab/LF/CR.
    const std::string raw =
        "plain ASCII\t\r\n \xC3\xA9 \xE2\x82\xAC \xE4\xB8\xAD \xF0\x9F\x98\x80 \xF4\x8F\xBF\xBD";
    bool changed = true;
    CHECK(clean(raw, changed) == raw);
    CHECK_FALSE(changed);
}

TEST_CASE("The empty string stays empty and unchanged", "[metrics][sanitizer]") {
    bool changed = true;
    CHECK(sanitizeGuestValue("", 10, &changed).empty());
    CHECK_FALSE(changed);
}

TEST_CASE("The changed flag is optional", "[metrics][sanitizer]") {
    CHECK(sanitizeGuestValue("a\x01" "b", 10) == "ab");
}

TEST_CASE("Invalid bytes become U+FFFD, one per byte", "[metrics][sanitizer]") {
    bool changed = false;
    CHECK(clean("a\xFF" "b\xFE\x80" "c", changed) == "a" + kFffd + "b" + kFffd + kFffd + "c");
    CHECK(changed);
}

TEST_CASE("A truncated multi-byte sequence becomes a single U+FFFD", "[metrics][sanitizer]") {
    bool changed = false;
    CHECK(clean("x\xE2\x82" "A", changed) == "x" + kFffd + "A");
    CHECK(changed);
    CHECK(clean("x\xF0\x9F\x98", changed) == "x" + kFffd);
}

TEST_CASE("Overlong encodings are replaced, never decoded", "[metrics][sanitizer]") {
    bool changed = false;
    // "/" as C0 AF, NUL as C0 80, "/" as E0 80 AF and F0 80 80 AF.
    CHECK(clean("\xC0\xAF", changed) == kFffd + kFffd);
    CHECK(changed);
    CHECK(clean("\xC0\x80", changed) == kFffd + kFffd);
    CHECK(clean("\xE0\x80\xAF", changed) == kFffd + kFffd + kFffd);
    CHECK(clean("\xF0\x80\x80\xAF", changed) == repeat(kFffd, 4));
}

TEST_CASE("Encoded UTF-16 surrogates are replaced", "[metrics][sanitizer]") {
    bool changed = false;
    CHECK(clean("\xED\xA0\x80", changed) == repeat(kFffd, 3));       // U+D800
    CHECK(changed);
    CHECK(clean("\xED\xBF\xBF", changed) == repeat(kFffd, 3));       // U+DFFF
    CHECK(clean("\xED\x9F\xBF", changed) == "\xED\x9F\xBF");         // U+D7FF is fine
    CHECK_FALSE(changed);
}

TEST_CASE("Code points above U+10FFFF are replaced", "[metrics][sanitizer]") {
    bool changed = false;
    CHECK(clean("\xF4\x90\x80\x80", changed) == repeat(kFffd, 4));
    CHECK(changed);
    CHECK(clean("\xF5\x80\x80\x80", changed) == repeat(kFffd, 4));
}

TEST_CASE("The noncharacters U+FFFE and U+FFFF, not allowed in XML, become U+FFFD",
          "[metrics][sanitizer]") {
    bool changed = false;
    CHECK(clean("a\xEF\xBF\xBE" "b\xEF\xBF\xBF", changed) == "a" + kFffd + "b" + kFffd);
    CHECK(changed);
}

TEST_CASE("C0 controls other than tab, LF and CR, and DEL, are dropped", "[metrics][sanitizer]") {
    std::string raw = "a";
    for (char c = 0; c < 0x20; ++c) {
        raw.push_back(c);
    }
    raw += "\x7F" "z";
    bool changed = false;
    CHECK(clean(raw, changed) == "a\t\n\rz");
    CHECK(changed);
}

TEST_CASE("C1 controls, valid characters in XML 1.0, are kept", "[metrics][sanitizer]") {
    bool changed = true;
    CHECK(clean("\xC2\x85", changed) == "\xC2\x85");
    CHECK_FALSE(changed);
}

TEST_CASE("Truncation cuts before a character that would not fit", "[metrics][sanitizer]") {
    bool changed = false;
    CHECK(sanitizeGuestValue("a\xC3\xA9", 2, &changed) == "a");
    CHECK(changed);
    CHECK(sanitizeGuestValue("\xF0\x9F\x98\x80", 3, &changed).empty());
    CHECK(changed);
    CHECK(sanitizeGuestValue("abc", 3, &changed) == "abc");
    CHECK_FALSE(changed);
    CHECK(sanitizeGuestValue("abcd", 3, &changed) == "abc");
    CHECK(changed);
}

TEST_CASE("A replacement character that does not fit is cut too", "[metrics][sanitizer]") {
    bool changed = false;
    CHECK(sanitizeGuestValue("ab\xFF", 4, &changed) == "ab");
    CHECK(changed);
}

TEST_CASE("Values beyond 4 KiB are cut to the limit on a character boundary",
          "[metrics][sanitizer]") {
    const std::string raw = repeat("\xE2\x82\xAC", 2000);  // 6000 bytes of €
    bool changed = false;
    const std::string out = sanitizeGuestValue(raw, 4096, &changed);
    CHECK(changed);
    CHECK(out.size() == 4095);  // 1365 whole characters
    CHECK(out == repeat("\xE2\x82\xAC", 1365));
}

TEST_CASE("A long valid value under the limit is kept whole", "[metrics][sanitizer]") {
    const std::string raw = repeat("\xF0\x9F\x98\x80", 1024);  // exactly 4096 bytes
    bool changed = true;
    CHECK(sanitizeGuestValue(raw, 4096, &changed) == raw);
    CHECK_FALSE(changed);
}

TEST_CASE("Sanitized output of random bytes is stable under a second pass",
          "[metrics][sanitizer]") {
    std::mt19937 gen(12345);  // fixed seed: reproducible
    std::uniform_int_distribution<int> byte(0, 255);
    std::uniform_int_distribution<std::size_t> length(0, 64);
    for (int round = 0; round < 2000; ++round) {
        std::string raw(length(gen), '\0');
        for (auto& c : raw) {
            c = static_cast<char>(byte(gen));
        }
        const std::string once = sanitizeGuestValue(raw, 48);
        bool changed = true;
        const std::string twice = sanitizeGuestValue(once, 48, &changed);
        INFO("round " << round);
        REQUIRE(twice == once);
        REQUIRE_FALSE(changed);
        REQUIRE(once.size() <= 48);
    }
}
