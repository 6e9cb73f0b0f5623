#include <metrics/compact_map.hpp>

#include <algorithm>
#include <cstring>
#include <limits>
#include <stdexcept>

namespace xenrdp::metrics {

namespace {

constexpr std::size_t kWord = sizeof(std::uint32_t);

std::size_t wordsFor(std::size_t entries, std::size_t bytes)
{
    return 1 + (2 * entries + 1) + (bytes + kWord - 1) / kWord;
}

}  // namespace

CompactMap::CompactMap(const StringMap& map)
{
    if (map.empty())
        return;
    std::size_t bytes = 0;
    for (const auto& [key, value] : map)
        bytes += key.size() + value.size();
    if (map.size() > std::numeric_limits<std::uint32_t>::max() / 2 ||
        bytes > std::numeric_limits<std::uint32_t>::max())
        throw std::length_error("CompactMap: map too large");

    const std::size_t n = map.size();
    const std::size_t words = wordsFor(n, bytes);
    // Zeroed, so that the padding after the last byte compares equal.
    words_ = std::make_unique<std::uint32_t[]>(words);
    words_[0] = static_cast<std::uint32_t>(n);
    std::uint32_t* offsets = words_.get() + 1;
    char* data = reinterpret_cast<char*>(offsets + 2 * n + 1);
    std::uint32_t at = 0;
    std::size_t i = 0;
    for (const auto& [key, value] : map) {
        for (const std::string* s : {&key, &value}) {
            offsets[i++] = at;
            std::memcpy(data + at, s->data(), s->size());
            at += static_cast<std::uint32_t>(s->size());
        }
    }
    offsets[i] = at;
}

CompactMap::CompactMap(std::initializer_list<std::pair<const std::string, std::string>> entries)
{
    StringMap map;
    for (const auto& [key, value] : entries)
        map.insert_or_assign(key, value);
    *this = CompactMap(map);
}

CompactMap::CompactMap(const CompactMap& other)
{
    if (!other.words_)
        return;
    const std::size_t words = other.wordCount();
    words_ = std::make_unique_for_overwrite<std::uint32_t[]>(words);
    std::memcpy(words_.get(), other.words_.get(), words * kWord);
}

CompactMap& CompactMap::operator=(const CompactMap& other)
{
    if (this != &other)
        *this = CompactMap(other);
    return *this;
}

std::size_t CompactMap::wordCount() const noexcept
{
    if (!words_)
        return 0;
    const std::size_t n = words_[0];
    return wordsFor(n, words_[1 + 2 * n]);
}

std::string_view CompactMap::string(std::size_t index) const noexcept
{
    const std::size_t n = words_[0];
    const std::uint32_t* offsets = words_.get() + 1;
    const char* data = reinterpret_cast<const char*>(offsets + 2 * n + 1);
    return {data + offsets[index], offsets[index + 1] - offsets[index]};
}

CompactMap::Entry CompactMap::pairAt(std::size_t index) const noexcept
{
    return {string(2 * index), string(2 * index + 1)};
}

CompactMap::const_iterator CompactMap::find(std::string_view key) const noexcept
{
    std::size_t low = 0;
    std::size_t high = size();
    while (low < high) {
        const std::size_t mid = low + (high - low) / 2;
        const std::string_view k = string(2 * mid);
        if (k < key) {
            low = mid + 1;
        } else if (key < k) {
            high = mid;
        } else {
            return {this, mid};
        }
    }
    return end();
}

std::string_view CompactMap::at(std::string_view key) const
{
    auto it = find(key);
    if (it == end())
        throw std::out_of_range("CompactMap::at: no such key");
    return it->second;
}

StringMap CompactMap::toStringMap() const
{
    StringMap out;
    out.reserve(size());
    for (const auto& [key, value] : *this)
        out.emplace_hint(out.end(), std::string(key), std::string(value));
    return out;
}

CompactMap CompactMap::with(std::string_view key, std::string_view value) const
{
    StringMap map = toStringMap();
    map.insert_or_assign(std::string(key), std::string(value));
    return CompactMap(map);
}

bool operator==(const CompactMap& a, const CompactMap& b) noexcept
{
    // The layout is canonical (sorted, unique keys, zeroed padding), so
    // equal maps have equal blocks.
    const std::size_t words = a.wordCount();
    if (words != b.wordCount())
        return false;
    return words == 0 || std::memcmp(a.words_.get(), b.words_.get(), words * kWord) == 0;
}

std::ostream& operator<<(std::ostream& out, const CompactMap& map)
{
    out << '{';
    const char* separator = "";
    for (const auto& [key, value] : map) {
        out << separator << '"' << key << "\": \"" << value << '"';
        separator = ", ";
    }
    return out << '}';
}

}  // namespace xenrdp::metrics
