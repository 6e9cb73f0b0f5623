#pragma once
/// StringMap: the records' ordinary string-to-string map.
#include <string>

#include <boost/container/flat_map.hpp>

namespace xenrdp::metrics {

/// A sorted vector of pairs rather than a tree: the record maps are small,
/// written whole and read in order, and a std::map node costs 48 bytes plus
/// the allocator's overhead per entry (docs/PERFORMANCE.md, Memory).
using StringMap = boost::container::flat_map<std::string, std::string>;

}  // namespace xenrdp::metrics
