#pragma once
/// CompactMap: a sorted string-to-string map frozen into one heap block.
///
/// The guest-metrics records keep six such maps per guest for as long as the
/// guest runs, and change them only by replacing them whole.  A flat map of
/// std::string pairs spends 64 bytes a pair plus a heap block per key or
/// value over 15 bytes (`platform-feature-multiprocessor-suspend`, the OS
/// name); here a map is one pointer, and its block holds a count, one 32-bit
/// offset per key and value, and their bytes back to back.  An empty map
/// allocates nothing.
///
/// Immutable once built: build a StringMap and convert it.  Copies copy the
/// block.  Not thread-safe to assign while another thread reads; concurrent
/// reads are fine.
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>

#include <metrics/index_iterator.hpp>
#include <metrics/string_map.hpp>

namespace xenrdp::metrics {

class CompactMap {
public:
    using Entry = std::pair<std::string_view, std::string_view>;  ///< (key, value)

    using const_iterator = IndexIterator<CompactMap, Entry>;
    using iterator = const_iterator;

    CompactMap() noexcept = default;
    /// From a sorted map (implicit: a record's field takes a StringMap).
    /// Throws std::length_error past 4 GiB.
    CompactMap(const StringMap& map);  // NOLINT(google-explicit-constructor)
    /// Later duplicates of a key replace earlier ones, as assignment would.
    CompactMap(std::initializer_list<std::pair<const std::string, std::string>> entries);
    CompactMap(const CompactMap& other);
    CompactMap(CompactMap&& other) noexcept = default;
    CompactMap& operator=(const CompactMap& other);
    CompactMap& operator=(CompactMap&& other) noexcept = default;
    ~CompactMap() = default;

    const_iterator begin() const noexcept { return {this, 0}; }
    const_iterator end() const noexcept { return {this, size()}; }
    std::size_t size() const noexcept { return words_ ? words_[0] : 0; }
    bool empty() const noexcept { return size() == 0; }

    const_iterator find(std::string_view key) const noexcept;
    std::size_t count(std::string_view key) const noexcept { return find(key) == end() ? 0 : 1; }
    /// The value of `key`; throws std::out_of_range if there is none.
    std::string_view at(std::string_view key) const;

    /// Back to an ordinary map (callers that edit, tests).
    StringMap toStringMap() const;
    /// A copy with `key` set to `value`: `m = m.with("data-ts", "1")`.
    [[nodiscard]] CompactMap with(std::string_view key, std::string_view value) const;
    /// Bytes of the heap block, for tests and statistics.
    std::size_t blockBytes() const noexcept { return wordCount() * sizeof(std::uint32_t); }

    friend bool operator==(const CompactMap& a, const CompactMap& b) noexcept;
    /// `{"k": "v", ...}`, for test failure messages.
    friend std::ostream& operator<<(std::ostream& out, const CompactMap& map);

private:
    // Block layout, in 32-bit words: [0] the count n; [1 .. 2n+1] the start
    // of key 0, value 0, key 1, ... and the end of the last value, as byte
    // offsets into the bytes that follow the offsets.
    friend const_iterator;
    Entry pairAt(std::size_t index) const noexcept;
    std::string_view string(std::size_t index) const noexcept;
    std::size_t wordCount() const noexcept;

    std::unique_ptr<std::uint32_t[]> words_;
};

}  // namespace xenrdp::metrics
