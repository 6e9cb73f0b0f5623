#include "systemd_notify.hpp"

#include <systemd/sd-daemon.h>

namespace xenrdp::daemon {

void SystemdNotifier::ready(const std::string& status) noexcept
{
    try {
        const std::string msg = "READY=1\nSTATUS=" + status;
        ::sd_notify(0, msg.c_str());
    } catch (...) {
    }
}

void SystemdNotifier::reloading() noexcept
{
    ::sd_notify(0, "RELOADING=1");
}

void SystemdNotifier::stopping() noexcept
{
    ::sd_notify(0, "STOPPING=1");
}

void SystemdNotifier::watchdog() noexcept
{
    ::sd_notify(0, "WATCHDOG=1");
}

std::optional<std::chrono::microseconds> SystemdNotifier::watchdogInterval() const noexcept
{
    std::uint64_t usec = 0;
    if (::sd_watchdog_enabled(0, &usec) > 0 && usec > 0)
        return std::chrono::microseconds(usec);
    return std::nullopt;
}

}  // namespace xenrdp::daemon
