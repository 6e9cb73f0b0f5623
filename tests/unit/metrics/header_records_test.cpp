// Compiles the header alone: it must include everything it uses.
#include <metrics/records.hpp>
