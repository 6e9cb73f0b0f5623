#include <daemon/config.hpp>

#include <xapi_rpc/auth/users_file.hpp>
#include <xapi_rpc/transport/http_server.hpp>

#include <boost/program_options.hpp>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>

namespace po = boost::program_options;

namespace xenrdp::daemon {
namespace {

const char* const kRoles[] = {"read-only",      "vm-operator",   "vm-admin",
                              "vm-power-admin", "pool-operator", "pool-admin"};

bool knownRole(const std::string& r)
{
    for (const char* k : kRoles)
        if (r == k)
            return true;
    return false;
}

/// Options that may appear both as flags and in the file.
po::options_description settingsOptions()
{
    po::options_description d("Settings (flags, or keys of the config file)");
    // clang-format off
    d.add_options()
        ("listen", po::value<std::vector<std::string>>(),
         "XenAPI over HTTP on HOST:PORT (repeatable)")
        ("tls-listen", po::value<std::vector<std::string>>(),
         "XenAPI over HTTPS on HOST:PORT (repeatable; needs tls-cert and tls-key)")
        ("tls-cert", po::value<std::string>(), "PEM certificate chain for tls-listen")
        ("tls-key", po::value<std::string>(), "PEM private key for tls-listen")
        ("unix-socket", po::value<std::string>(), "XenAPI on this Unix socket (\"\" for none; default /run/xenrdpd/xapi.sock)")
        ("unix-socket-mode", po::value<std::string>(), "octal permissions of the Unix socket (default 0660)")
        ("xenstore-socket", po::value<std::string>(), "xenstored's socket (default $XENSTORED_PATH, else the system one)")
        ("call-plugin-interval", po::value<double>(), "seconds between two VM.call_plugin on one VM (default 10; 0 disables)")
        ("login-failure-delay", po::value<double>(), "seconds before a failed login is answered (default 5)")
        ("max-sessions", po::value<std::size_t>(), "most XenAPI sessions at once (default 1000)")
        ("max-sessions-per-user", po::value<std::size_t>(),
         "most XenAPI sessions of one user, or of one originator for root (default 500)")
        ("session-idle-timeout", po::value<double>(), "seconds before an unused session expires (default 86400)")
        ("users", po::value<std::string>(), "users file: lines name:role:crypt-hash (SHA-512 crypt)")
        ("pam-service", po::value<std::string>(), "PAM service name (default xenrdpd)")
        ("pam", po::value<bool>(), "authenticate with PAM (default true)")
        ("pam-role", po::value<std::vector<std::string>>(),
         "USER=ROLE for PAM users (repeatable; default root=pool-admin, others read-only)")
        ("max-body-bytes", po::value<std::size_t>(), "largest request body (default 1048576)")
        ("max-connections", po::value<std::size_t>(), "most client connections at once (default 1024)")
        ("idle-timeout", po::value<double>(), "seconds an idle keep-alive connection stays open (default 300)")
        ("read-timeout", po::value<double>(), "seconds to receive a whole request (default 30)")
        ("rdp-console", po::value<bool>(), "serve the Nova-compatible RDP console API (default true)")
        ("console-proxy-base-url", po::value<std::string>(), "base URL of the HTML5 RDP proxy (default http://127.0.0.1:6083/)")
        ("console-token-ttl", po::value<double>(), "seconds a console token stays valid (default 600)")
        ("rdp-port", po::value<unsigned>(), "RDP port of the guests (default 3389)")
        ("metrics-endpoint", po::value<bool>(), "serve Prometheus metrics on GET /metrics, without authentication (default true)")
        ("log-level", po::value<std::string>(), "trace|debug|info|warn|error|off, or module=level,... (default info)")
        ("log-journal", po::value<bool>(), "syslog level prefixes, no timestamps (set by the systemd unit)");
    // clang-format on
    return d;
}

po::options_description commandOptions()
{
    po::options_description d("Command");
    // clang-format off
    d.add_options()
        ("help,h", "print this help and exit")
        ("version", "print the version and exit")
        ("check-config", "validate the configuration and exit (0 if valid)")
        ("config", po::value<std::string>(), "configuration file (default /etc/xenrdpd/xenrdpd.conf)");
    // clang-format on
    return d;
}

double positiveSeconds(const po::variables_map& vm, const char* key, double fallback, bool allowZero)
{
    if (vm.count(key) == 0)
        return fallback;
    double v = vm[key].as<double>();
    if (!std::isfinite(v) || v < 0 || (!allowZero && v == 0) || v > 31536000)
        throw ConfigError(std::string(key) + ": must be a number of seconds" +
                          (allowZero ? " >= 0" : " > 0"));
    return v;
}

template <class T>
T atLeastOne(const po::variables_map& vm, const char* key, T fallback)
{
    if (vm.count(key) == 0)
        return fallback;
    T v = vm[key].as<T>();
    if (v < 1)
        throw ConfigError(std::string(key) + ": must be at least 1");
    return v;
}

Config buildConfig(const po::variables_map& vm, const std::string& configFile)
{
    Config c;
    c.configFile = configFile;
    auto str = [&vm](const char* key, std::string& out) {
        if (vm.count(key) != 0)
            out = vm[key].as<std::string>();
    };
    if (vm.count("listen") != 0)
        for (const auto& s : vm["listen"].as<std::vector<std::string>>())
            c.listen.push_back(parseHostPort(s));
    if (vm.count("tls-listen") != 0)
        for (const auto& s : vm["tls-listen"].as<std::vector<std::string>>())
            c.tlsListen.push_back(parseHostPort(s));
    str("tls-cert", c.tlsCert);
    str("tls-key", c.tlsKey);
    str("unix-socket", c.unixSocket);
    if (vm.count("unix-socket-mode") != 0) {
        const std::string m = vm["unix-socket-mode"].as<std::string>();
        unsigned mode = 0;
        auto [end, ec] = std::from_chars(m.data(), m.data() + m.size(), mode, 8);
        if (ec != std::errc() || end != m.data() + m.size() || mode > 0777)
            throw ConfigError("unix-socket-mode: '" + m + "' is not an octal mode like 0660");
        c.unixSocketMode = mode;
    }
    str("xenstore-socket", c.xenstoreSocket);
    c.callPluginInterval = positiveSeconds(vm, "call-plugin-interval", c.callPluginInterval, true);
    c.loginFailureDelay = positiveSeconds(vm, "login-failure-delay", c.loginFailureDelay, true);
    c.maxSessions = atLeastOne<std::size_t>(vm, "max-sessions", c.maxSessions);
    c.maxSessionsPerUser = atLeastOne<std::size_t>(vm, "max-sessions-per-user", c.maxSessionsPerUser);
    c.sessionIdleTimeout = positiveSeconds(vm, "session-idle-timeout", c.sessionIdleTimeout, false);
    str("users", c.usersFile);
    str("pam-service", c.pamService);
    if (vm.count("pam") != 0)
        c.pamEnabled = vm["pam"].as<bool>();
    if (vm.count("pam-role") != 0) {
        for (const auto& s : vm["pam-role"].as<std::vector<std::string>>()) {
            auto eq = s.find('=');
            if (eq == std::string::npos || eq == 0)
                throw ConfigError("pam-role: '" + s + "' is not USER=ROLE");
            std::string role = s.substr(eq + 1);
            if (!knownRole(role))
                throw ConfigError("pam-role: unknown role '" + role + "'");
            c.pamRoles[s.substr(0, eq)] = role;
        }
    }
    c.maxBodyBytes = atLeastOne<std::size_t>(vm, "max-body-bytes", c.maxBodyBytes);
    c.maxConnections = atLeastOne<std::size_t>(vm, "max-connections", c.maxConnections);
    c.idleTimeout = positiveSeconds(vm, "idle-timeout", c.idleTimeout, false);
    c.readTimeout = positiveSeconds(vm, "read-timeout", c.readTimeout, false);
    if (vm.count("rdp-console") != 0)
        c.rdpConsoleEnabled = vm["rdp-console"].as<bool>();
    str("console-proxy-base-url", c.consoleProxyBaseUrl);
    c.consoleTokenTtl = positiveSeconds(vm, "console-token-ttl", c.consoleTokenTtl, true);
    if (vm.count("rdp-port") != 0) {
        unsigned p = vm["rdp-port"].as<unsigned>();
        if (p == 0 || p > 65535)
            throw ConfigError("rdp-port: must be 1..65535");
        c.rdpPort = static_cast<std::uint16_t>(p);
    }
    if (vm.count("metrics-endpoint") != 0)
        c.metricsEndpoint = vm["metrics-endpoint"].as<bool>();
    str("log-level", c.logLevel);
    if (vm.count("log-journal") != 0)
        c.logToJournal = vm["log-journal"].as<bool>();

    // Cross-checks.
    if (!c.tlsListen.empty() && (c.tlsCert.empty() || c.tlsKey.empty()))
        throw ConfigError("tls-listen needs both tls-cert and tls-key");
    if (!c.tlsListen.empty()) {
        for (const auto* file : {&c.tlsCert, &c.tlsKey}) {
            if (!std::filesystem::exists(*file))
                throw ConfigError("TLS file '" + *file + "' does not exist");
        }
        // Loaded as listenTls will: an unreadable file or a key that does not
        // belong to the certificate fails here, not at start or mid-reload.
        if (auto ec = xapi_rpc::transport::checkTlsFiles(c.tlsCert, c.tlsKey))
            throw ConfigError("tls-cert/tls-key: '" + c.tlsCert + "' and '" + c.tlsKey +
                              "' are not a usable certificate and key: " + ec.message());
    }
    if (!c.usersFile.empty()) {
        if (!std::filesystem::exists(c.usersFile))
            throw ConfigError("users: file '" + c.usersFile + "' does not exist");
        std::string error;
        if (!xapi_rpc::auth::loadUsersFile(c.usersFile, error))
            throw ConfigError("users: " + error);
    }
    if (c.listen.empty() && c.tlsListen.empty() && c.unixSocket.empty())
        throw ConfigError("no listener: set listen, tls-listen or unix-socket");
    const std::string& url = c.consoleProxyBaseUrl;
    if (!(url.rfind("http://", 0) == 0 || url.rfind("https://", 0) == 0) ||
        url.find('?') != std::string::npos || url.find_first_of(" \t\r\n\"<>") != std::string::npos)
        throw ConfigError("console-proxy-base-url: '" + url +
                          "' must be an http:// or https:// URL without a query string");
    const std::string& lvl = c.logLevel;
    if (lvl.find_first_not_of("abcdefghijklmnopqrstuvwxyz_=,") != std::string::npos)
        throw ConfigError("log-level: '" + lvl + "' is not a level or module=level list");
    return c;
}

/// The text of the config file at `path`.  A missing file is nullopt unless
/// `mustExist`; a file that is there but cannot be read (permissions, a
/// directory, an I/O error) is always a ConfigError.
std::optional<std::string> readConfigFile(const std::string& path, bool mustExist)
{
    std::error_code ec;
    const auto status = std::filesystem::status(path, ec);
    if (status.type() == std::filesystem::file_type::not_found) {
        if (!mustExist)
            return std::nullopt;
        throw ConfigError("cannot read config file '" + path + "': it does not exist");
    }
    if (ec)
        throw ConfigError("cannot read config file '" + path + "': " + ec.message());
    if (std::filesystem::is_directory(status))
        throw ConfigError("cannot read config file '" + path + "': it is a directory");
    errno = 0;
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw ConfigError("cannot read config file '" + path + "': " +
                          (errno != 0 ? std::strerror(errno) : "open failed"));
    try {
        std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
        if (in.bad())
            throw ConfigError("cannot read config file '" + path + "': read error");
        return text;
    } catch (const std::ios_base::failure& e) {
        throw ConfigError("cannot read config file '" + path + "': " + e.code().message());
    }
}

struct Parsed {
    po::variables_map vm;
    std::string configFile;
    bool explicitFile = false;
};

Parsed parseAll(int argc, const char* const argv[], const std::string& defaultConfigFile)
{
    po::options_description all;
    all.add(commandOptions()).add(settingsOptions());
    Parsed p;
    try {
        // Flags first: in a variables_map the first value stored wins, so
        // flags take precedence over the file, and both over the defaults.
        po::store(po::command_line_parser(argc, argv).options(all).run(), p.vm);
        p.explicitFile = p.vm.count("config") != 0;
        p.configFile = p.explicitFile ? p.vm["config"].as<std::string>() : defaultConfigFile;
        if (auto text = readConfigFile(p.configFile, p.explicitFile)) {
            std::istringstream in(*text);
            try {
                po::store(po::parse_config_file(in, settingsOptions(), false), p.vm);
            } catch (const po::error& e) {
                throw ConfigError(p.configFile + ": " + e.what());
            }
        }
        po::notify(p.vm);
    } catch (const po::error& e) {
        throw ConfigError(e.what());
    }
    return p;
}

}  // namespace

HostPort parseHostPort(const std::string& text)
{
    auto colon = text.rfind(':');
    if (colon == std::string::npos)
        throw ConfigError("'" + text + "' is not HOST:PORT");
    std::string host = text.substr(0, colon);
    const std::string port = text.substr(colon + 1);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value > 65535)
        throw ConfigError("'" + text + "': bad port");
    if (host.empty())
        host = "0.0.0.0";
    return HostPort{host, static_cast<std::uint16_t>(value)};
}

CommandLine parseCommandLine(int argc, const char* const argv[], const std::string& defaultConfigFile)
{
    CommandLine cl;
    Parsed p = parseAll(argc, argv, defaultConfigFile);
    if (p.vm.count("help") != 0) {
        std::ostringstream os;
        os << "Usage: xenrdpd [OPTIONS]\n\nxenrdpd serves XenAPI for Remote Desktop control of Xen guests.\n\n"
           << commandOptions() << "\n"
           << settingsOptions();
        cl.action = Action::Help;
        cl.helpText = os.str();
        return cl;
    }
    if (p.vm.count("version") != 0) {
        cl.action = Action::Version;
        return cl;
    }
    cl.config = buildConfig(p.vm, p.configFile);
    cl.action = p.vm.count("check-config") != 0 ? Action::CheckConfig : Action::Run;
    return cl;
}

Config reloadConfig(int argc, const char* const argv[])
{
    Parsed p = parseAll(argc, argv, kDefaultConfigFile);
    return buildConfig(p.vm, p.configFile);
}

std::string Config::describe() const
{
    std::ostringstream os;
    auto hp = [](const HostPort& h) { return h.host + ":" + std::to_string(h.port); };
    os << "config = " << configFile << "\n";
    for (const auto& l : listen)
        os << "listen = " << hp(l) << "\n";
    for (const auto& l : tlsListen)
        os << "tls-listen = " << hp(l) << "\n";
    if (!tlsCert.empty())
        os << "tls-cert = " << tlsCert << "\n";
    if (!tlsKey.empty())
        os << "tls-key = " << tlsKey << "\n";
    os << "unix-socket = " << unixSocket << "\n";
    os << "xenstore-socket = " << xenstoreSocket << "\n";
    os << "call-plugin-interval = " << callPluginInterval << "\n";
    os << "users = " << usersFile << "\n";
    os << "pam = " << (pamEnabled ? "true" : "false") << " (service " << pamService << ")\n";
    os << "rdp-console = " << (rdpConsoleEnabled ? "true" : "false") << "\n";
    os << "console-proxy-base-url = " << consoleProxyBaseUrl << "\n";
    os << "console-token-ttl = " << consoleTokenTtl << "\n";
    os << "metrics-endpoint = " << (metricsEndpoint ? "true" : "false") << "\n";
    os << "log-level = " << logLevel << "\n";
    return os.str();
}

}  // namespace xenrdp::daemon
