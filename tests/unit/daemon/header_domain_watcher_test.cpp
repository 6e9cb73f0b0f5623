// The public header compiles on its own (STYLE.md §4.3).
#include <daemon/domain_watcher.hpp>
