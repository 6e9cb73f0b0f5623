#include "systemd_notify.hpp"

#include <systemd/sd-daemon.h>

#include <time.h>

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
    // sd_notify(3): RELOADING=1 carries the CLOCK_MONOTONIC time the reload
    // started (required by Type=notify-reload, harmless for Type=notify).
    timespec now{};
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    const auto usec = static_cast<unsigned long long>(now.tv_sec) * 1000000ULL +
                      static_cast<unsigned long long>(now.tv_nsec) / 1000ULL;
    ::sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu", usec);
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
