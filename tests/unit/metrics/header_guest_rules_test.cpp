// Compiles the header alone: it must include everything it uses.
#include <metrics/guest_rules.hpp>
