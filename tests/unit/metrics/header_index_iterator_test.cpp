// Compiles metrics/index_iterator.hpp on its own (STYLE.md §4.3).
#include <metrics/index_iterator.hpp>
