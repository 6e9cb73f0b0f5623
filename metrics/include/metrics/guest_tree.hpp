#pragma once
/// What the daemon keeps of one guest's xenstore tree: sorted (path, value)
/// pairs, packed.
///
/// One is kept per running guest, so its size is most of what a guest costs
/// the daemon.  A map of std::string pairs spent 64 bytes a node plus a heap
/// block for each path or value over 15 bytes (most paths are); here every
/// path and value lives in one buffer and a node is four 32-bit words.
///
/// Not thread-safe.  Iterators, and the views they give, are invalidated by
/// any change to the tree.
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <metrics/index_iterator.hpp>

namespace xenrdp::metrics {

class GuestTree {
public:
    using Node = std::pair<std::string_view, std::string_view>;  ///< (path, value)

    using const_iterator = IndexIterator<GuestTree, Node>;
    using iterator = const_iterator;

    GuestTree() = default;
    /// Later duplicates of a path replace earlier ones (tests, fuzzing).
    GuestTree(std::initializer_list<Node> nodes);

    const_iterator begin() const noexcept { return {this, 0}; }
    const_iterator end() const noexcept { return {this, slots_.size()}; }
    std::size_t size() const noexcept { return slots_.size(); }
    bool empty() const noexcept { return slots_.empty(); }

    const_iterator find(std::string_view path) const noexcept;
    /// The first node whose path is not less than `path`.
    const_iterator lower_bound(std::string_view path) const noexcept;
    std::size_t count(std::string_view path) const noexcept { return find(path) == end() ? 0 : 1; }

    /// Sets `path` to `value`, adding the node if need be.  O(size) for a
    /// new path; merge() is the way to add many.
    void insert_or_assign(std::string_view path, std::string_view value);
    /// Adds or replaces nodes given sorted by path, in one pass over the
    /// tree.  A path given twice keeps its last value; a path already in
    /// the tree takes the new one.
    void mergeSorted(const std::vector<std::pair<std::string, std::string>>& nodes);
    /// Removes `path` if present; returns how many nodes went (0 or 1).
    std::size_t erase(std::string_view path);
    void erase(const_iterator first, const_iterator last);
    void clear() noexcept;

    /// Bytes held, for tests and statistics.
    std::size_t capacityBytes() const noexcept
    {
        return slots_.capacity() * sizeof(Slot) + blob_.capacity();
    }

    friend bool operator==(const GuestTree& a, const GuestTree& b);

private:
    struct Slot {
        std::uint32_t pathOffset;
        std::uint32_t pathSize;
        std::uint32_t valueOffset;
        std::uint32_t valueSize;
    };

    friend const_iterator;
    Node pairAt(std::size_t index) const noexcept;
    std::string_view pathAt(std::size_t index) const noexcept;
    std::uint32_t append(std::string_view bytes);
    Slot makeSlot(std::string_view path, std::string_view value);
    /// Counts bytes no node uses any more; rewrites the buffer when they
    /// are most of it, and keeps small trees without spare capacity.
    void dropBytes(std::size_t bytes);
    void tidy();

    std::vector<Slot> slots_;  ///< sorted by path
    std::string blob_;         ///< every path and value, back to back
    std::size_t garbage_ = 0;  ///< bytes of blob_ no slot refers to
};

}  // namespace xenrdp::metrics
