#include <metrics/guest_tree.hpp>

#include <algorithm>
#include <limits>
#include <stdexcept>

namespace xenrdp::metrics {

namespace {

/// Below this, a tree is kept without spare capacity (a guest's tree as the
/// agent leaves it is ~600 bytes); above, buffers grow and shrink amortized.
constexpr std::size_t kTightBytes = 8192;

}  // namespace

GuestTree::GuestTree(std::initializer_list<Node> nodes)
{
    for (const auto& [path, value] : nodes)
        insert_or_assign(path, value);
}

GuestTree::Node GuestTree::pairAt(std::size_t index) const noexcept
{
    const Slot& s = slots_[index];
    return {std::string_view(blob_).substr(s.pathOffset, s.pathSize),
            std::string_view(blob_).substr(s.valueOffset, s.valueSize)};
}

std::string_view GuestTree::pathAt(std::size_t index) const noexcept
{
    const Slot& s = slots_[index];
    return std::string_view(blob_).substr(s.pathOffset, s.pathSize);
}

GuestTree::const_iterator GuestTree::lower_bound(std::string_view path) const noexcept
{
    std::size_t first = 0;
    std::size_t count = slots_.size();
    while (count > 0) {
        const std::size_t half = count / 2;
        if (pathAt(first + half) < path) {
            first += half + 1;
            count -= half + 1;
        } else {
            count = half;
        }
    }
    return {this, first};
}

GuestTree::const_iterator GuestTree::find(std::string_view path) const noexcept
{
    const auto it = lower_bound(path);
    return it != end() && pathAt(it.index()) == path ? it : end();
}

std::uint32_t GuestTree::append(std::string_view bytes)
{
    if (blob_.size() + bytes.size() > std::numeric_limits<std::uint32_t>::max())
        throw std::length_error("GuestTree: more than 4 GiB of paths and values");
    const auto offset = static_cast<std::uint32_t>(blob_.size());
    blob_.append(bytes);
    return offset;
}

GuestTree::Slot GuestTree::makeSlot(std::string_view path, std::string_view value)
{
    Slot s{};
    s.pathOffset = append(path);
    s.pathSize = static_cast<std::uint32_t>(path.size());
    s.valueOffset = append(value);
    s.valueSize = static_cast<std::uint32_t>(value.size());
    return s;
}

void GuestTree::insert_or_assign(std::string_view path, std::string_view value)
{
    const auto at = lower_bound(path).index();
    if (at < slots_.size() && pathAt(at) == path) {
        // dropBytes() may move slots_: `s` is not used after it.
        Slot& s = slots_[at];
        std::size_t freed = s.valueSize;
        if (value.size() <= s.valueSize) {  // fits where the old value was
            blob_.replace(s.valueOffset, value.size(), value);
            freed -= value.size();
        } else {
            s.valueOffset = append(value);
        }
        s.valueSize = static_cast<std::uint32_t>(value.size());
        dropBytes(freed);
        return;
    }
    // `path` and `value` may point into blob_: append() can move it, so copy first.
    const std::string copy = std::string(path).append(value);
    const Slot s = makeSlot(std::string_view(copy).substr(0, path.size()),
                            std::string_view(copy).substr(path.size()));
    slots_.insert(slots_.begin() + static_cast<std::ptrdiff_t>(at), s);
    tidy();
}

void GuestTree::mergeSorted(const std::vector<std::pair<std::string, std::string>>& nodes)
{
    if (nodes.empty())
        return;
    std::vector<Slot> merged;
    merged.reserve(slots_.size() + nodes.size());
    std::size_t mine = 0;
    std::size_t replaced = 0;  // bytes of nodes given a new value
    for (std::size_t i = 0; i < nodes.size(); ++i) {
        const auto& [path, value] = nodes[i];
        if (i + 1 < nodes.size() && nodes[i + 1].first == path)
            continue;  // a later value for the same path wins
        while (mine < slots_.size() && pathAt(mine) < path)
            merged.push_back(slots_[mine++]);
        if (mine < slots_.size() && pathAt(mine) == path) {
            replaced += slots_[mine].pathSize + slots_[mine].valueSize;
            ++mine;
        }
        merged.push_back(makeSlot(path, value));
    }
    merged.insert(merged.end(), slots_.begin() + static_cast<std::ptrdiff_t>(mine), slots_.end());
    slots_ = std::move(merged);
    dropBytes(replaced);
}

std::size_t GuestTree::erase(std::string_view path)
{
    const auto it = find(path);
    if (it == end())
        return 0;
    erase(it, const_iterator(this, it.index() + 1));
    return 1;
}

void GuestTree::erase(const_iterator first, const_iterator last)
{
    if (first.index() >= last.index())
        return;
    std::size_t freed = 0;
    for (std::size_t i = first.index(); i < last.index(); ++i)
        freed += slots_[i].pathSize + slots_[i].valueSize;
    slots_.erase(slots_.begin() + static_cast<std::ptrdiff_t>(first.index()),
                 slots_.begin() + static_cast<std::ptrdiff_t>(last.index()));
    dropBytes(freed);
}

void GuestTree::clear() noexcept
{
    slots_.clear();
    slots_.shrink_to_fit();
    blob_.clear();
    blob_.shrink_to_fit();
    garbage_ = 0;
}

void GuestTree::dropBytes(std::size_t bytes)
{
    garbage_ += bytes;
    tidy();
}

void GuestTree::tidy()
{
    const std::size_t live = blob_.size() - garbage_;
    if (garbage_ > 0 && (garbage_ >= live || blob_.size() <= kTightBytes)) {
        // Rewrite the buffer with the live bytes only, in node order.
        std::string packed;
        packed.reserve(live);
        for (Slot& s : slots_) {
            const auto pathOffset = static_cast<std::uint32_t>(packed.size());
            packed.append(blob_, s.pathOffset, s.pathSize);
            const auto valueOffset = static_cast<std::uint32_t>(packed.size());
            packed.append(blob_, s.valueOffset, s.valueSize);
            s.pathOffset = pathOffset;
            s.valueOffset = valueOffset;
        }
        blob_ = std::move(packed);
        garbage_ = 0;
    }
    if (blob_.size() <= kTightBytes) {
        blob_.shrink_to_fit();
        slots_.shrink_to_fit();
    }
}

bool operator==(const GuestTree& a, const GuestTree& b)
{
    if (a.size() != b.size())
        return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (a.pairAt(i) != b.pairAt(i))
            return false;
    }
    return true;
}

}  // namespace xenrdp::metrics
