#include "text_util.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <system_error>

namespace xenrdp::xapi_rpc::detail {

namespace {

bool isContinuation(unsigned char c) noexcept { return (c & 0xC0U) == 0x80U; }

// Writes `value` as "%.<precision>g" into buf; returns the text.
std::string_view formatGeneral(std::array<char, 64>& buf, double value, int precision) noexcept {
    auto res = std::to_chars(buf.data(), buf.data() + buf.size(), value,
                             std::chars_format::general, precision);
    // 64 bytes always suffice for a double with <= 17 significant digits.
    return {buf.data(), static_cast<std::size_t>(res.ptr - buf.data())};
}

}  // namespace

std::size_t utf8SequenceLength(std::string_view s, std::size_t i) noexcept {
    const auto byteAt = [s](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char c = byteAt(i);
    std::size_t len = 0;
    unsigned char lo = 0x80;  // bounds of the second byte (excludes overlongs/surrogates)
    unsigned char hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else {
        return 0;
    }
    if (s.size() - i < len) return 0;
    const unsigned char second = byteAt(i + 1);
    if (second < lo || second > hi) return 0;
    for (std::size_t k = 2; k < len; ++k) {
        if (!isContinuation(byteAt(i + k))) return 0;
    }
    return len;
}

bool isValidUtf8(std::string_view s) noexcept {
    std::size_t i = 0;
    while (i < s.size()) {
        if (static_cast<unsigned char>(s[i]) < 0x80) {
            ++i;
            continue;
        }
        const std::size_t len = utf8SequenceLength(s, i);
        if (len == 0) return false;
        i += len;
    }
    return true;
}

void appendInt(std::string& out, std::int64_t value) {
    std::array<char, 24> buf{};
    auto res = std::to_chars(buf.data(), buf.data() + buf.size(), value);
    out.append(buf.data(), res.ptr);
}

void appendDouble16g(std::string& out, double value) {
    if (!std::isfinite(value)) {
        // printf's spelling; xapi would write the same.
        out += std::isnan(value) ? "nan" : (value > 0 ? "inf" : "-inf");
        return;
    }
    std::array<char, 64> buf{};
    out += formatGeneral(buf, value, 16);
}

void appendDoubleJson(std::string& out, double value) {
    if (!std::isfinite(value)) {
        // Yojson would write NaN/Infinity, which is not JSON; null keeps the
        // document parseable for every client.
        out += "null";
        return;
    }
    std::array<char, 64> buf{};
    std::string_view text = formatGeneral(buf, value, 16);
    double back = 0;
    auto parsed = std::from_chars(text.data(), text.data() + text.size(), back);
    if (parsed.ec != std::errc{} || back != value) {
        text = formatGeneral(buf, value, 17);
    }
    out += text;
    bool integral = true;
    for (char ch : text) {
        if (ch != '-' && (ch < '0' || ch > '9')) {
            integral = false;
            break;
        }
    }
    if (integral) out += ".0";
}

}  // namespace xenrdp::xapi_rpc::detail
