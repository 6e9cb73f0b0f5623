#include <daemon/application.hpp>

#include <daemon/domain_watcher.hpp>
#include <daemon/logging.hpp>
#include <metrics/object_store.hpp>
#include <metrics/records.hpp>
#include <xapi_rpc/auth/composite_authenticator.hpp>
#include <xapi_rpc/auth/login_throttle.hpp>
#include <xapi_rpc/auth/pam_authenticator.hpp>
#include <xapi_rpc/auth/role.hpp>
#include <xapi_rpc/auth/users_file.hpp>
#include <xapi_rpc/console/console_service.hpp>
#include <xapi_rpc/dispatch/dispatcher.hpp>
#include <xapi_rpc/dispatch/http_handler.hpp>
#include <xapi_rpc/dispatch/wire_records.hpp>
#include <xapi_rpc/transport/http_server.hpp>
#include <xenstore/connection.hpp>
#include <xenstore/xs_api.hpp>

#include "guest_control.hpp"
#include "heap_trimmer.hpp"
#include "host_identity.hpp"
#include "metrics_endpoint.hpp"
#include "router.hpp"
#include "systemd_notify.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include <sys/stat.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#ifndef XENRDP_VERSION
#define XENRDP_VERSION "unknown"
#endif

namespace asio = boost::asio;

namespace xenrdp::daemon {

using xapi_rpc::auth::Authenticator;
namespace auth = xapi_rpc::auth;
namespace dispatch = xapi_rpc::dispatch;
namespace transport = xapi_rpc::transport;

namespace {

/// How long SIGTERM's drain gives a call beyond the failed-login delay.
constexpr std::chrono::milliseconds kDrainMargin{5000};

std::chrono::milliseconds millis(double seconds)
{
    return std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000.0));
}

// The settings SIGHUP applies at run time, from a Config.
dispatch::SessionLimits sessionLimits(const Config& config)
{
    dispatch::SessionLimits limits;
    limits.maxSessions = config.maxSessions;
    limits.maxSessionsPerUser = config.maxSessionsPerUser;
    limits.idleTimeout = std::chrono::seconds(static_cast<std::int64_t>(config.sessionIdleTimeout));
    return limits;
}

std::chrono::nanoseconds callPluginInterval(const Config& config)
{
    return std::chrono::nanoseconds(static_cast<std::int64_t>(config.callPluginInterval * 1e9));
}

transport::ServerLimits serverLimits(const Config& config)
{
    transport::ServerLimits limits;
    limits.maxBodyBytes = config.maxBodyBytes;
    limits.maxConnections = config.maxConnections;
    limits.idleTimeout = millis(config.idleTimeout);
    limits.readTimeout = millis(config.readTimeout);
    return limits;
}

auth::PamRoles pamRoles(const Config& config)
{
    auth::PamRoles roles;
    roles.users.clear();
    for (const auto& [user, role] : config.pamRoles)
        if (auto r = auth::parseRole(role))
            roles.users[user] = *r;
    return roles;
}

// --- RDP console (issue 5): Config -> console part options ---
xapi_rpc::console::ConsoleServiceOptions consoleOptions(const Config& config)
{
    xapi_rpc::console::ConsoleServiceOptions options;
    options.nova.enabled = config.rdpConsoleEnabled;
    options.nova.proxyBaseUrl = config.consoleProxyBaseUrl;
    options.nova.rdpPort = config.rdpPort;
    options.tokenTtl = millis(config.consoleTokenTtl);
    return options;
}
// --- end RDP console ---

}  // namespace

class ApplicationImpl {
public:
    ApplicationImpl(Config config, int argc, const char* const argv[])
        : config_(std::move(config)), argc_(argc), argv_(argv),
          loggers_(config_.logToJournal, config_.logLevel), signals_(io_), watchdog_(io_)
    {
    }

    ~ApplicationImpl()
    {
        // Stop what may still call back into the others, in dependency order.
        server_.reset();
        if (watcher_)
            watcher_->stop();
        if (xs_)
            xs_->stop();
    }

    int run();

private:
    bool build();
    bool listen();
    void addHostAndPool();
    void startXenstore();
    void onReady();
    void waitSignals();
    void shutdown(const char* why);
    void reload();
    void applyReloadable(Config& next, std::vector<std::string>& changed);
    template <class T>
    void keepRunning(Config& next, const char* key, T Config::*member);
    void armWatchdog(std::chrono::microseconds interval);

    Config config_;
    int argc_;
    const char* const* argv_;
    Loggers loggers_;
    asio::io_context io_{1};
    SystemdNotifier notifier_;

    metrics::ObjectStore store_;
    std::string hostRef_;
    std::unique_ptr<xenstore::Connection> xs_;
    std::unique_ptr<DomainWatcher> watcher_;
    std::unique_ptr<XenstoreGuestControl> guestControl_;
    std::unique_ptr<auth::UsersFileAuthenticator> usersAuth_;
    std::unique_ptr<auth::PamAuthenticator> pamAuth_;
    std::unique_ptr<auth::CompositeAuthenticator> auth_;
    std::unique_ptr<auth::LoginThrottle> throttle_;
    std::unique_ptr<dispatch::Dispatcher> dispatcher_;
    std::unique_ptr<dispatch::XapiHttpHandler> xapiHandler_;
    std::unique_ptr<MetricsEndpoint> metricsEndpoint_;  // null when metrics-endpoint = false
    std::unique_ptr<xapi_rpc::console::ConsoleService> console_;  // Nova RDP console API + console objects
    HeapTrimmer heapTrimmer_{io_.get_executor(), std::chrono::seconds(1)};
    Router router_;
    std::unique_ptr<transport::HttpServer> server_;

    asio::signal_set signals_;
    asio::steady_timer watchdog_;
    bool stopping_ = false;
    bool ready_ = false;
};

int ApplicationImpl::run()
{
    const auto& log = loggers_.daemon();
    log->info("DAEMON_STARTING version={} config={}", XENRDP_VERSION, config_.configFile);
    if (!build() || !listen())
        return 1;
    waitSignals();
    startXenstore();
    if (auto interval = notifier_.watchdogInterval())
        armWatchdog(*interval);
    io_.run();
    log->info("DAEMON_STOPPED");
    return 0;
}

void ApplicationImpl::addHostAndPool()
{
    HostIdentity id = readHostIdentity();
    metrics::HostRecord host;
    host.uuid = id.hostUuid;
    host.nameLabel = id.hostname;
    host.nameDescription = "Xen host served by xenrdpd";
    host.hostname = id.hostname;
    host.address = id.address;
    host.softwareVersion = dispatch::defaultSoftwareVersion();
    hostRef_ = store_.add(host);

    metrics::PoolRecord pool;
    pool.uuid = id.poolUuid;
    pool.nameLabel = "";
    pool.nameDescription = "";
    pool.master = hostRef_;
    store_.add(pool);
}

bool ApplicationImpl::build()
{
    const auto& log = loggers_.daemon();
    addHostAndPool();

    // libxenstore takes its socket from the environment.  Set it now, while
    // the process has one thread: the Connection below starts the pool thread
    // that opens handles, and the auth pools call into PAM (getenv) later.
    xenstore::useXenstoreSocket(config_.xenstoreSocket);
    xenstore::ConnectionOptions xsOptions;
    xsOptions.socketPath = config_.xenstoreSocket;
    xsOptions.logger = loggers_.xenstore();
    xsOptions.readers = kXenstoreReaders;
    xs_ = std::make_unique<xenstore::Connection>(io_.get_executor(), xsOptions);

    DomainWatcherOptions watcherOptions;
    watcherOptions.hostRef = hostRef_;
    watcherOptions.logger = loggers_.engine();
    watcher_ = std::make_unique<DomainWatcher>(io_.get_executor(), *xs_, store_, watcherOptions);
    guestControl_ = std::make_unique<XenstoreGuestControl>(*xs_);

    std::vector<std::reference_wrapper<Authenticator>> backends;
    if (!config_.usersFile.empty()) {
        try {
            usersAuth_ = std::make_unique<auth::UsersFileAuthenticator>(io_.get_executor(),
                                                                        config_.usersFile);
        } catch (const std::exception& e) {
            log->error("USERS_FILE_INVALID error={}", e.what());
            return false;
        }
        backends.emplace_back(*usersAuth_);
    }
    if (config_.pamEnabled) {
        pamAuth_ = std::make_unique<auth::PamAuthenticator>(
            io_.get_executor(), auth::PamOptions{config_.pamService, pamRoles(config_)});
        backends.emplace_back(*pamAuth_);
    }
    auth_ = std::make_unique<auth::CompositeAuthenticator>(io_.get_executor(), std::move(backends));
    throttle_ = std::make_unique<auth::LoginThrottle>(io_.get_executor(),
                                                      millis(config_.loginFailureDelay));

    dispatch::DispatcherConfig dispatcherConfig;
    dispatcherConfig.sessions = sessionLimits(config_);
    // event.from may answer early with no events; clients loop anyway
    // (XenCenter asks for 30 s, Xen Orchestra for 60 s).  A 5-minute cap
    // bounds what a long-poll left behind by a vanished client costs.
    dispatcherConfig.maxEventTimeout = std::chrono::minutes(5);
    dispatcherConfig.callPluginInterval = callPluginInterval(config_);
    dispatcher_ = std::make_unique<dispatch::Dispatcher>(io_.get_executor(), store_, *auth_, *throttle_,
                                                         *guestControl_, dispatcherConfig,
                                                         loggers_.rpc());
    xapiHandler_ = std::make_unique<dispatch::XapiHttpHandler>(*dispatcher_);
    router_.setFallback(*xapiHandler_);
    // GET /metrics (Prometheus); counts only, so no authentication (docs/METRICS.md).
    if (config_.metricsEndpoint) {
        metricsEndpoint_ = std::make_unique<MetricsEndpoint>(
            MetricsSources{*dispatcher_, *watcher_, *xs_, store_, XENRDP_VERSION}, loggers_.daemon());
        router_.mount(&MetricsEndpoint::accepts, *metricsEndpoint_);
    }
    // --- RDP console (issue 5): Nova console URLs/tokens, XenAPI rdp console objects ---
    console_ = std::make_unique<xapi_rpc::console::ConsoleService>(
        io_.get_executor(), store_, *auth_, *throttle_, dispatcher_->sessions(), consoleOptions(config_),
        loggers_.console());
    router_.mount(&xapi_rpc::console::NovaConsoleHandler::accepts, console_->handler());
    console_->start();
    if (metricsEndpoint_) {
        // Expired tokens wait for the sweep; the gauge counts only those that still resolve.
        metricsEndpoint_->setConsoleTokenCount(
            [console = console_.get()] { return console->tokens().liveCount(); });
    }
    // --- end RDP console ---

    server_ = std::make_unique<transport::HttpServer>(io_.get_executor(), router_, serverLimits(config_),
                                                      loggers_.http());
    // Large answers (get_all_records, event.from from the start) leave freed
    // blocks glibc keeps; the trimmer hands them back a second later.
    server_->setResponseObserver([this](std::size_t bytes) { heapTrimmer_.noteResponse(bytes); });
    if (metricsEndpoint_)
        metricsEndpoint_->attachServer(*server_);
    return true;
}

bool ApplicationImpl::listen()
{
    const auto& log = loggers_.daemon();
    std::error_code ec;
    for (const auto& hp : config_.listen) {
        auto bound = server_->listenTcp(hp.host, hp.port, ec);
        if (ec) {
            log->error("LISTEN_FAILED kind=tcp endpoint={}:{} error={}", hp.host, hp.port, ec.message());
            return false;
        }
        log->info("LISTENING kind=tcp endpoint={}:{}", bound.address, bound.port);
    }
    for (const auto& hp : config_.tlsListen) {
        auto bound = server_->listenTls(hp.host, hp.port, config_.tlsCert, config_.tlsKey, ec);
        if (ec) {
            log->error("LISTEN_FAILED kind=tls endpoint={}:{} error={}", hp.host, hp.port, ec.message());
            return false;
        }
        log->info("LISTENING kind=tls endpoint={}:{}", bound.address, bound.port);
    }
    if (!config_.unixSocket.empty()) {
        std::filesystem::path dir = std::filesystem::path(config_.unixSocket).parent_path();
        std::error_code fsError;
        if (!dir.empty())
            std::filesystem::create_directories(dir, fsError);
        auto bound = server_->listenUnix(config_.unixSocket, static_cast<mode_t>(config_.unixSocketMode), ec);
        if (ec) {
            log->error("LISTEN_FAILED kind=unix path={} error={}", config_.unixSocket, ec.message());
            return false;
        }
        log->info("LISTENING kind=unix path={}", bound.address);
    }
    return true;
}

void ApplicationImpl::startXenstore()
{
    watcher_->start([this] { onReady(); });
    xs_->start();
}

void ApplicationImpl::onReady()
{
    if (ready_ || stopping_)
        return;
    ready_ = true;
    const std::string status = "serving " + std::to_string(store_.count(metrics::ObjectClass::Vm)) + " VMs";
    notifier_.ready(status);
    loggers_.daemon()->info("DAEMON_READY vms={} guests_watched={}",
                            store_.count(metrics::ObjectClass::Vm), watcher_->watchedDomains());
}

void ApplicationImpl::waitSignals()
{
    signals_.add(SIGTERM);
    signals_.add(SIGINT);
    signals_.add(SIGHUP);
    signals_.async_wait([this](const boost::system::error_code& ec, int signo) {
        if (ec)
            return;
        if (signo == SIGHUP) {
            reload();
            waitSignals();
            return;
        }
        shutdown(signo == SIGTERM ? "SIGTERM" : "SIGINT");
    });
}

void ApplicationImpl::shutdown(const char* why)
{
    if (stopping_)
        return;
    stopping_ = true;
    notifier_.stopping();
    loggers_.daemon()->info("DAEMON_STOPPING signal={}", why);
    watchdog_.cancel();
    // Drain: stop accepting and let calls in progress be answered, then stop
    // the engines and leave run().  The bound outlasts the failed-login delay,
    // so a refused login in flight still gets its answer, with kDrainMargin
    // on top for the call's own work (a PAM check, a xenstore write).
    const auto bound = throttle_->failureDelay() + kDrainMargin;
    server_->stop(bound, [this] {
        console_->stop();
        watcher_->stop();
        xs_->stop();
        signals_.cancel();
        io_.stop();
    });
    // Answer event long-polls now: they would otherwise hold the drain to its
    // bound.  After stop(), so their answers say "Connection: close" and the
    // clients hang up at once instead of lingering on a kept-alive socket.
    dispatcher_->releaseWaiters();
}

void ApplicationImpl::reload()
{
    const auto& log = loggers_.daemon();
    notifier_.reloading();
    Config next;
    try {
        next = reloadConfig(argc_, argv_);
        loggers_.setLevels(next.logLevel);  // throws before anything else changes
    } catch (const std::exception& e) {
        log->error("CONFIG_RELOAD_FAILED error={} (keeping the running configuration)", e.what());
        notifier_.ready("reload failed; running with the previous configuration");
        return;
    }
    // Read only at start: say so, and keep the value in effect, so that the
    // next reload compares against what really runs (and warns again).
    keepRunning(next, "listen", &Config::listen);
    keepRunning(next, "tls-listen", &Config::tlsListen);
    keepRunning(next, "tls-cert", &Config::tlsCert);
    keepRunning(next, "tls-key", &Config::tlsKey);
    keepRunning(next, "unix-socket", &Config::unixSocket);
    keepRunning(next, "xenstore-socket", &Config::xenstoreSocket);
    keepRunning(next, "users", &Config::usersFile);
    keepRunning(next, "pam", &Config::pamEnabled);
    keepRunning(next, "pam-service", &Config::pamService);
    keepRunning(next, "metrics-endpoint", &Config::metricsEndpoint);
    keepRunning(next, "log-journal", &Config::logToJournal);

    if (usersAuth_) {
        std::string error;
        if (!usersAuth_->reload(error))
            log->error("USERS_FILE_RELOAD_FAILED error={} (keeping the loaded accounts)", error);
    }
    std::vector<std::string> changed;
    applyReloadable(next, changed);
    config_ = std::move(next);
    std::string keys;
    for (const auto& key : changed)
        keys += (keys.empty() ? "" : ",") + key;
    log->info("CONFIG_RELOADED log_level={} changed={}", config_.logLevel, keys.empty() ? "-" : keys);
    notifier_.ready("configuration reloaded");
}

template <class T>
void ApplicationImpl::keepRunning(Config& next, const char* key, T Config::*member)
{
    if (next.*member == config_.*member)
        return;
    loggers_.daemon()->warn("CONFIG_RELOAD_NEEDS_RESTART key={} (the running value stays in effect until a restart)",
                            key);
    next.*member = config_.*member;
}

void ApplicationImpl::applyReloadable(Config& next, std::vector<std::string>& changed)
{
    auto note = [&changed](bool differs, const char* key) {
        if (differs)
            changed.emplace_back(key);
    };
    note(next.logLevel != config_.logLevel, "log-level");
    if (pamAuth_)
        pamAuth_->setRoles(pamRoles(next));
    note(next.pamRoles != config_.pamRoles, "pam-role");
    throttle_->setFailureDelay(millis(next.loginFailureDelay));
    note(next.loginFailureDelay != config_.loginFailureDelay, "login-failure-delay");
    dispatcher_->sessions().setLimits(sessionLimits(next));
    note(next.maxSessions != config_.maxSessions, "max-sessions");
    note(next.maxSessionsPerUser != config_.maxSessionsPerUser, "max-sessions-per-user");
    note(next.sessionIdleTimeout != config_.sessionIdleTimeout, "session-idle-timeout");
    dispatcher_->setCallPluginInterval(callPluginInterval(next));
    note(next.callPluginInterval != config_.callPluginInterval, "call-plugin-interval");
    server_->setLimits(serverLimits(next));
    note(next.maxBodyBytes != config_.maxBodyBytes, "max-body-bytes");
    note(next.maxConnections != config_.maxConnections, "max-connections");
    note(next.idleTimeout != config_.idleTimeout, "idle-timeout");
    note(next.readTimeout != config_.readTimeout, "read-timeout");
    console_->reconfigure(consoleOptions(next));  // switch, proxy URL, TTL, RDP port: at once
    note(next.rdpConsoleEnabled != config_.rdpConsoleEnabled, "rdp-console");
    note(next.consoleProxyBaseUrl != config_.consoleProxyBaseUrl, "console-proxy-base-url");
    note(next.consoleTokenTtl != config_.consoleTokenTtl, "console-token-ttl");
    note(next.rdpPort != config_.rdpPort, "rdp-port");
    if (next.unixSocketMode != config_.unixSocketMode && !config_.unixSocket.empty()) {
        // One chmod(2) on the socket we bound: as cheap as the users file's re-read.
        if (::chmod(config_.unixSocket.c_str(), static_cast<mode_t>(next.unixSocketMode)) != 0) {
            loggers_.daemon()->error("CONFIG_RELOAD_APPLY_FAILED key=unix-socket-mode error={} (keeping {:04o})",
                                     std::strerror(errno), config_.unixSocketMode);
            next.unixSocketMode = config_.unixSocketMode;
        } else {
            changed.emplace_back("unix-socket-mode");
        }
    }
}

void ApplicationImpl::armWatchdog(std::chrono::microseconds interval)
{
    // Ping at a quarter of the timeout; a hung loop stops pinging.
    watchdog_.expires_after(interval / 4);
    watchdog_.async_wait([this, interval](const boost::system::error_code& ec) {
        if (ec || stopping_)
            return;
        notifier_.watchdog();
        armWatchdog(interval);
    });
}

Application::Application(Config config, int argc, const char* const argv[])
    : impl_(std::make_unique<ApplicationImpl>(std::move(config), argc, argv))
{
}

Application::~Application() = default;

int Application::run()
{
    try {
        return impl_->run();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "xenrdpd: DAEMON_FAILED error=%s\n", e.what());
        return 1;
    }
}

}  // namespace xenrdp::daemon
