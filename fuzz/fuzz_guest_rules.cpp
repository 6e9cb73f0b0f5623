// libFuzzer target: what a guest may write under its xenstore data/ and
// attr/ trees.  The input is read as "key=value" lines (key relative to
// /local/domain/<domid>/); every value goes through sanitizeGuestValue as
// the domain watcher does, then deriveGuestFields and applyGuestFields build
// the VM_guest_metrics record.  Checks: sanitized values are strict UTF-8 of
// XML 1.0 characters no longer than the limit, and the derived maps respect maxKeysPerTree.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <metrics/guest_rules.hpp>

namespace {

/// True if `s` is strict UTF-8 (RFC 3629: no overlongs, no surrogates) made
/// only of XML 1.0 characters (tab, LF, CR, U+0020 and up, not U+FFFE/FFFF).
bool xmlSafeUtf8(std::string_view s)
{
    std::size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        std::size_t n = 0;
        char32_t cp = 0;
        if (c < 0x80) { n = 1; cp = c; }
        else if ((c >> 5) == 0x6) { n = 2; cp = c & 0x1Fu; }
        else if ((c >> 4) == 0xE) { n = 3; cp = c & 0x0Fu; }
        else if ((c >> 3) == 0x1E) { n = 4; cp = c & 0x07u; }
        else return false;
        if (i + n > s.size()) return false;
        for (std::size_t k = 1; k < n; ++k) {
            const auto cc = static_cast<unsigned char>(s[i + k]);
            if ((cc >> 6) != 0x2) return false;
            cp = (cp << 6) | (cc & 0x3Fu);
        }
        static constexpr char32_t minimum[] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < minimum[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        if (cp < 0x20 && cp != 0x9 && cp != 0xA && cp != 0xD) return false;
        if (cp == 0xFFFE || cp == 0xFFFF) return false;
        i += n;
    }
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    using namespace xenrdp::metrics;
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    GuestLimits limits;
    limits.maxValueBytes = 64;
    limits.maxKeysPerTree = 16;

    const std::string whole = sanitizeGuestValue(input, limits.maxValueBytes);
    if (whole.size() > limits.maxValueBytes || !xmlSafeUtf8(whole)) __builtin_trap();

    GuestTree tree;
    std::size_t start = 0;
    while (start < input.size() && tree.size() < limits.maxTotalKeys) {
        std::size_t end = input.find('\n', start);
        if (end == std::string_view::npos) end = input.size();
        const std::string_view line = input.substr(start, end - start);
        const std::size_t eq = line.find('=');
        if (eq != std::string_view::npos) {
            tree.insert_or_assign(line.substr(0, eq),
                                  sanitizeGuestValue(line.substr(eq + 1), limits.maxValueBytes));
        }
        start = end + 1;
    }
    const GuestFields fields = deriveGuestFields(tree, limits);
    for (const StringMap* m : {&fields.osVersion, &fields.pvDriversVersion, &fields.networks,
                               &fields.other, &fields.netbiosName, &fields.services}) {
        if (m->size() > limits.maxKeysPerTree) __builtin_trap();
    }
    GuestMetricsRecord record;
    (void)applyGuestFields(record, fields, TimePoint{});
    if (!(deriveGuestFields(tree, limits) == fields)) __builtin_trap();
    return 0;
}
