// xenrdpd: XenAPI for Remote Desktop control of Xen guests.
#include <daemon/application.hpp>
#include <daemon/config.hpp>

#include <iostream>

#ifndef XENRDP_VERSION
#define XENRDP_VERSION "unknown"
#endif

int main(int argc, char* argv[])
{
    using namespace xenrdp::daemon;
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
