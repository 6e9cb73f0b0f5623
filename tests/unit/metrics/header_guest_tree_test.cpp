// Compiles metrics/guest_tree.hpp on its own (STYLE.md §4.3).
#include <metrics/guest_tree.hpp>
