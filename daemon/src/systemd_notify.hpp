#pragma once
// Talking to systemd (sd_notify(3)): READY=1 with STATUS=, RELOADING=1 with
// MONOTONIC_USEC=, STOPPING=1 and WATCHDOG=1.  Every call is a no-op when
// not run by systemd ($NOTIFY_SOCKET unset).
#include <chrono>
#include <optional>
#include <string>

namespace xenrdp::daemon {

class SystemdNotifier {
public:
    void ready(const std::string& status) noexcept;
    void reloading() noexcept;
    void stopping() noexcept;
    void watchdog() noexcept;
    /// The watchdog interval the unit asked for (WatchdogSec=), if any.
    std::optional<std::chrono::microseconds> watchdogInterval() const noexcept;
};

}  // namespace xenrdp::daemon
