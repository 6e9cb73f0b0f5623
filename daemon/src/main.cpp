// xenrdpd: XenAPI for Remote Desktop control of Xen guests.
#include <daemon/application.hpp>
#include <daemon/config.hpp>

#include <malloc.h>

#include <cstdlib>
#include <iostream>

#ifndef XENRDP_VERSION
#define XENRDP_VERSION "unknown"
#endif

namespace {

/// One malloc arena for the whole process, unless the administrator chose
/// otherwise (MALLOC_ARENA_MAX or GLIBC_TUNABLES).  The xenstore reader
/// threads build read results that the io thread keeps or frees; with an
/// arena per thread each arena keeps its own high-water mark.  At 2,000
/// guests one arena holds 0.2 KiB a guest less (docs/PERFORMANCE.md,
/// Memory).  Only the io thread allocates at RPC rates, so there is no
/// lock contention to speak of.  Runs before any thread starts.
void useOneMallocArena()
{
    if (std::getenv("MALLOC_ARENA_MAX") == nullptr && std::getenv("GLIBC_TUNABLES") == nullptr)
        ::mallopt(M_ARENA_MAX, 1);
}

}  // namespace

int main(int argc, char* argv[])
{
    using namespace xenrdp::daemon;
    useOneMallocArena();
    CommandLine cl;
    try {
        cl = parseCommandLine(argc, argv);
    } catch (const ConfigError& e) {
        std::cerr << "xenrdpd: configuration error: " << e.what() << "\n";
        return 2;
    }
    switch (cl.action) {
    case Action::Help:
        std::cout << cl.helpText;
        return 0;
    case Action::Version:
        std::cout << "xenrdpd " << XENRDP_VERSION << "\n";
        return 0;
    case Action::CheckConfig:
        std::cout << "configuration OK\n" << cl.config.describe();
        return 0;
    case Action::Run:
        break;
    }
    return Application(cl.config, argc, argv).run();
}
