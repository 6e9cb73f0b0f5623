#pragma once
/// Config: every setting of xenrdpd, from built-in defaults, then
/// /etc/xenrdpd/xenrdpd.conf (or --config FILE), then command-line flags.
///
/// The file uses the flags' names as keys ("listen = 127.0.0.1:8080"); a
/// repeatable flag may appear on several lines.  Parsing is done by
/// Boost.Program_options; the result is validated in full before anything
/// uses it, so a bad file never half-applies (SIGHUP keeps the old Config).
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace xenrdp::daemon {

/// A configuration error, with a message naming the setting (and file).
class ConfigError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct HostPort {
    std::string host;
    std::uint16_t port = 0;
    bool operator==(const HostPort&) const = default;
};

/// Where the configuration is read from without --config.
inline constexpr const char* kDefaultConfigFile = "/etc/xenrdpd/xenrdpd.conf";

/// Parses "HOST:PORT", "[v6]:PORT" or ":PORT" (all addresses).  Throws ConfigError.
HostPort parseHostPort(const std::string& text);

struct Config {
    std::string configFile = kDefaultConfigFile;

    // XenAPI listeners
    std::vector<HostPort> listen;      ///< plain HTTP
    std::vector<HostPort> tlsListen;   ///< HTTPS
    std::string tlsCert;
    std::string tlsKey;
    std::string unixSocket = "/run/xenrdpd/xapi.sock";  ///< "" = none
    unsigned unixSocketMode = 0660;

    // xenstore
    std::string xenstoreSocket;  ///< "" = $XENSTORED_PATH, else libxenstore's default

    // XenAPI behaviour
    double callPluginInterval = 10.0;  ///< seconds; 0 disables the rate limit
    double loginFailureDelay = 5.0;    ///< seconds, as xapi
    std::size_t maxSessions = 1000;
    std::size_t maxSessionsPerUser = 500;  ///< per user name, or per originator for root (xapi's grouping)
    double sessionIdleTimeout = 86400.0;  ///< seconds

    // Authentication
    std::string usersFile;            ///< "" = none
    std::string pamService = "xenrdpd";
    bool pamEnabled = true;
    std::map<std::string, std::string> pamRoles{{"root", "pool-admin"}};  ///< user -> role name

    // HTTP limits
    std::size_t maxBodyBytes = 1 << 20;
    std::size_t maxConnections = 1024;
    double idleTimeout = 300.0;
    double readTimeout = 30.0;

    // RDP consoles (Nova-compatible API)
    bool rdpConsoleEnabled = true;
    std::string consoleProxyBaseUrl = "http://127.0.0.1:6083/";
    double consoleTokenTtl = 600.0;
    std::uint16_t rdpPort = 3389;

    // Prometheus text on GET /metrics (counts only, no authentication; docs/METRICS.md)
    bool metricsEndpoint = true;

    // Logging
    std::string logLevel = "info";  ///< global level, or "module=level,..." (spdlog syntax)
    bool logToJournal = false;      ///< syslog-level prefixes and no timestamps (set under systemd)

    /// Values as "key = value" lines, secrets never included (for --check-config output and logs).
    std::string describe() const;
};

enum class Action { Run, CheckConfig, Help, Version };

struct CommandLine {
    Action action = Action::Run;
    Config config;
    std::string helpText;
};

/// Parses flags and the config file they name (or `defaultConfigFile`, which
/// may be missing, but not unreadable), then validates the result in full:
/// the users file is parsed, the TLS certificate and key are loaded as a
/// pair.  Throws ConfigError on any unknown key, bad value, unreadable or
/// broken file, or inconsistent combination.  Blocking file reads.
CommandLine parseCommandLine(int argc, const char* const argv[],
                             const std::string& defaultConfigFile = kDefaultConfigFile);

/// Re-reads the config file (--config's, or the default one) and re-applies
/// `argc/argv` on top (flags still win), for SIGHUP; validated as
/// parseCommandLine does.  Throws ConfigError.
Config reloadConfig(int argc, const char* const argv[]);

}  // namespace xenrdp::daemon
