#pragma once
/// IndexIterator: the forward iterator of the packed containers (GuestTree,
/// CompactMap), which hand out their pairs by value, as views into their
/// buffers.  The container names it a friend and provides a private
/// `Pair pairAt(std::size_t) const noexcept`.
#include <cstddef>
#include <iterator>

namespace xenrdp::metrics {

template <class Container, class Pair>
class IndexIterator {
public:
    /// Lets `it->first` work as it does on a map iterator.
    struct Arrow {
        Pair pair;
        const Pair* operator->() const noexcept { return &pair; }
    };

    // A forward iterator in use, though it yields pairs by value.
    using iterator_category = std::forward_iterator_tag;
    using value_type = Pair;
    using difference_type = std::ptrdiff_t;
    using pointer = Arrow;
    using reference = Pair;

    IndexIterator() = default;
    IndexIterator(const Container* container, std::size_t index) noexcept
        : container_(container), index_(index)
    {
    }
    Pair operator*() const noexcept { return container_->pairAt(index_); }
    Arrow operator->() const noexcept { return Arrow{container_->pairAt(index_)}; }
    IndexIterator& operator++() noexcept
    {
        ++index_;
        return *this;
    }
    IndexIterator operator++(int) noexcept
    {
        IndexIterator before = *this;
        ++index_;
        return before;
    }
    bool operator==(const IndexIterator& other) const noexcept { return index_ == other.index_; }
    bool operator!=(const IndexIterator& other) const noexcept { return index_ != other.index_; }
    /// The position, counted from begin().
    std::size_t index() const noexcept { return index_; }

private:
    const Container* container_ = nullptr;
    std::size_t index_ = 0;
};

}  // namespace xenrdp::metrics
