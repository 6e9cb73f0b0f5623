// Compiles metrics/compact_map.hpp on its own (STYLE.md §4.3).
#include <metrics/compact_map.hpp>
