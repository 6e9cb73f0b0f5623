// xenrdp-sandbox: the test sandbox from the shell and from Python.
//
//   xenrdp-sandbox start DIR                 start xenstored in DIR, print its socket
//   xenrdp-sandbox add-domain DIR ID NAME [UUID]   lay out and introduce a guest, print its uuid
//   xenrdp-sandbox add-domains DIR FIRST COUNT [PREFIX]
//   xenrdp-sandbox release DIR ID            toolstack shutdown (@releaseDomain)
//   xenrdp-sandbox destroy DIR ID            domain death seen by xenstored (@releaseDomain)
//   xenrdp-sandbox write DIR PATH VALUE | read DIR PATH | rm DIR PATH
//   xenrdp-sandbox kill DIR | restart DIR | stop DIR
#include "sandbox.hpp"

#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>
#include <vector>

using xenrdp::sandbox::DomainSpec;
using xenrdp::sandbox::XenstoredSandbox;

namespace {

int usage()
{
    std::cerr << "usage: xenrdp-sandbox start|add-domain|add-domains|release|destroy|write|read|rm|"
                 "kill|restart|stop DIR [ARGS...]\n";
    return 2;
}

std::uint32_t domid(const std::string& s)
{
    std::size_t used = 0;
    unsigned long v = std::stoul(s, &used);
    if (used != s.size() || v >= 0x7FF0)
        throw std::invalid_argument("bad domid: " + s);
    return static_cast<std::uint32_t>(v);
}

}  // namespace

int main(int argc, char** argv)
{
    std::vector<std::string> args(argv + 1, argv + argc);
    if (args.size() < 2)
        return usage();
    const std::string& cmd = args[0];
    const std::string& dir = args[1];
    try {
        if (cmd == "start") {
            XenstoredSandbox sb(dir);
            sb.detach();
            std::cout << sb.socketPath() << "\n";
            return 0;
        }
        XenstoredSandbox sb = XenstoredSandbox::attach(dir);
        if (cmd == "add-domain" && (args.size() == 4 || args.size() == 5)) {
            DomainSpec spec{domid(args[2]), args[3], args.size() == 5 ? args[4] : "", true};
            std::cout << sb.addDomain(spec) << "\n";
        } else if (cmd == "add-domains" && (args.size() == 4 || args.size() == 5)) {
            std::uint32_t first = domid(args[2]);
            std::uint32_t count = domid(args[3]);
            std::string prefix = args.size() == 5 ? args[4] : "guest";
            std::vector<DomainSpec> specs;
            for (std::uint32_t i = 0; i < count; ++i)
                specs.push_back({first + i, prefix + "-" + std::to_string(first + i), "", true});
            sb.addDomains(specs);
        } else if (cmd == "release" && args.size() == 3) {
            sb.releaseDomain(domid(args[2]));
        } else if (cmd == "destroy" && args.size() == 3) {
            sb.destroyDomain(domid(args[2]));
        } else if (cmd == "write" && args.size() == 4) {
            sb.write(args[2], args[3]);
        } else if (cmd == "read" && args.size() == 3) {
            auto v = sb.read(args[2]);
            if (!v)
                return 1;
            std::cout << *v << "\n";
        } else if (cmd == "rm" && args.size() == 3) {
            sb.remove(args[2]);
        } else if (cmd == "kill" && args.size() == 2) {
            sb.kill();
        } else if (cmd == "restart" && args.size() == 2) {
            sb.restart();
            sb.detach();
        } else if (cmd == "stop" && args.size() == 2) {
            sb.stop();
        } else {
            return usage();
        }
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "xenrdp-sandbox: " << e.what() << "\n";
        return 1;
    }
}
