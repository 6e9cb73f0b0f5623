#pragma once
/// Logging for xenrdpd: one named spdlog logger per module, all writing to
/// one stderr sink, created here (no global registry, no singletons) and
/// handed to each module through its constructor.
///
/// Under systemd (journal mode) every line starts with the syslog priority
/// "<N>" that journald turns into the entry's level (SyslogLevelPrefix=), and
/// carries no timestamp.  Otherwise lines have a local timestamp.
/// Messages start with a stable event id (docs/LOG_EVENTS.md).
#include <memory>
#include <string>

#include <spdlog/fwd.h>

namespace xenrdp::daemon {

class Loggers {
public:
    /// Creates the module loggers.  `levels` as in setLevels().  Throws
    /// std::invalid_argument on a bad level string.
    Loggers(bool journal, const std::string& levels);

    /// Sets levels at run time: "info" for all, or "info,xenstore=debug,rpc=warn".
    /// Throws std::invalid_argument (levels unchanged) on a bad string.
    void setLevels(const std::string& levels);

    const std::shared_ptr<spdlog::logger>& daemon() const noexcept { return daemon_; }
    const std::shared_ptr<spdlog::logger>& xenstore() const noexcept { return xenstore_; }
    const std::shared_ptr<spdlog::logger>& engine() const noexcept { return engine_; }
    const std::shared_ptr<spdlog::logger>& rpc() const noexcept { return rpc_; }
    const std::shared_ptr<spdlog::logger>& http() const noexcept { return http_; }
    const std::shared_ptr<spdlog::logger>& console() const noexcept { return console_; }

private:
    std::shared_ptr<spdlog::logger> make(const std::string& name);

    std::shared_ptr<spdlog::sinks::sink> sink_;
    std::shared_ptr<spdlog::logger> daemon_, xenstore_, engine_, rpc_, http_, console_;
};

}  // namespace xenrdp::daemon
