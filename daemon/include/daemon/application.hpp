#pragma once
/// Application: xenrdpd's composition root.  Builds every part from a
/// Config, wires them through their constructors, runs the io_context on
/// the calling thread, and handles SIGTERM/SIGINT (drain and stop) and
/// SIGHUP (reload the configuration, keeping the old one if the new one is
/// invalid).  Tells systemd READY=1 once xenstore is connected, the initial
/// domain scan is done and every listener is bound; sends WATCHDOG=1 from the
/// main loop when the unit asks for a watchdog.
#include <memory>
#include <vector>

#include <daemon/config.hpp>

namespace xenrdp::daemon {

class ApplicationImpl;

class Application {
public:
    /// `argv` is kept to re-parse flags on SIGHUP (flags still win over the file).
    Application(Config config, int argc, const char* const argv[]);
    ~Application();
    Application(const Application&) = delete;
    Application& operator=(const Application&) = delete;

    /// Runs until SIGTERM/SIGINT.  Returns the process exit code.  Startup
    /// failures (a port in use, an unreadable TLS key, a bad users file) are
    /// logged once and give a non-zero code.
    int run();

private:
    std::unique_ptr<ApplicationImpl> impl_;
};

}  // namespace xenrdp::daemon
