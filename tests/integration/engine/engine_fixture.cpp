#include "engine_fixture.hpp"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <stdexcept>

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <spdlog/sinks/stdout_sinks.h>

#include "domain_paths.hpp"

extern char** environ;

namespace xenrdp::test {

std::string dom(std::uint32_t domid, const std::string& rel)
{
    return "/local/domain/" + std::to_string(domid) + (rel.empty() ? "" : "/" + rel);
}

Engine::Engine(sandbox::XenstoredSandbox& sb, daemon::DomainWatcherOptions opts)
    : logText_(std::make_shared<std::ostringstream>())
{
    xenstore::ConnectionOptions copts;
    copts.socketPath = sb.socketPath();
    copts.livenessInterval = 100ms;
    copts.backoffInitial = 20ms;
    copts.backoffMax = 200ms;
    copts.readers = daemon::kXenstoreReaders;  // as the daemon runs it
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(*logText_);
    std::vector<spdlog::sink_ptr> sinks{sink};
    // XENRDP_TEST_LOG=1 also shows the log, for debugging a failure.
    if (std::getenv("XENRDP_TEST_LOG") != nullptr)
        sinks.push_back(std::make_shared<spdlog::sinks::stderr_sink_mt>());
    auto logger = std::make_shared<spdlog::logger>("daemon", sinks.begin(), sinks.end());
    logger->set_level(spdlog::level::debug);
    copts.logger = std::make_shared<spdlog::logger>("xenstore", sinks.begin(), sinks.end());
    conn = std::make_unique<xenstore::Connection>(io.get_executor(), copts);
    opts.logger = logger;
    if (opts.hostRef == metrics::kNullRef)
        opts.hostRef = kHostRef;
    watcher = std::make_unique<daemon::DomainWatcher>(io.get_executor(), *conn, store, opts);
}

Engine::~Engine()
{
    watcher.reset();
    conn.reset();
    work = boost::asio::any_io_executor();
}

void Engine::start()
{
    bool scanned = false;
    conn->start();
    watcher->start([flag = &scanned] { *flag = true; });
    if (!runUntil([flag = &scanned] { return *flag; }))
        throw std::runtime_error("initial scan did not finish (connected=" +
                                 std::to_string(conn->connected()) +
                                 " pending=" + std::to_string(watcher->pendingJobs()) +
                                 " scans=" + std::to_string(watcher->stats().scans) + ")");
    // Each guest watch fires once at registration: let those pass, so that
    // every test starts from a quiet engine.
    const std::size_t firings = daemon::detail::watchedBases().size() * watcher->watchedDomains();
    if (!runUntil([w = watcher.get(), firings] { return w->stats().watchEvents >= firings; }) ||
        !settle())
        throw std::runtime_error("initial watch firings did not settle");
}

bool Engine::runUntil(const std::function<bool()>& done, std::chrono::milliseconds deadline)
{
    const auto end = std::chrono::steady_clock::now() + deadline;
    while (!done()) {
        if (std::chrono::steady_clock::now() >= end)
            return false;
        io.run_one_for(5ms);
    }
    return true;
}

bool Engine::settle(std::chrono::milliseconds deadline)
{
    return runUntil([w = watcher.get()] { return w->pendingJobs() == 0; }, deadline);
}

std::optional<std::string> Engine::vmRef(const std::string& uuid) const
{
    return store.findByUuid(metrics::ObjectClass::Vm, uuid);
}

const metrics::VmRecord* Engine::vm(const std::string& uuid) const
{
    auto ref = vmRef(uuid);
    return ref ? store.getAs<metrics::VmRecord>(*ref) : nullptr;
}

const metrics::GuestMetricsRecord* Engine::gm(const std::string& uuid) const
{
    const metrics::VmRecord* v = vm(uuid);
    return v ? store.getAs<metrics::GuestMetricsRecord>(v->guestMetrics) : nullptr;
}

std::optional<std::string> Engine::other(const std::string& uuid, const std::string& key) const
{
    const metrics::GuestMetricsRecord* g = gm(uuid);
    if (g == nullptr)
        return std::nullopt;
    auto it = g->other.find(key);
    if (it == g->other.end())
        return std::nullopt;
    return std::string(it->second);
}

std::size_t Engine::logCount(const std::string& needle) const
{
    const std::string text = logText_->str();
    std::size_t count = 0;
    for (std::size_t pos = text.find(needle); pos != std::string::npos;
         pos = text.find(needle, pos + needle.size()))
        ++count;
    return count;
}

AgentProcess::AgentProcess(const sandbox::XenstoredSandbox& sb, std::uint32_t domid,
                           std::vector<std::string> extraArgs)
{
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0)
        throw std::runtime_error("pipe2 failed");
    std::vector<std::string> args = {XENRDP_GUEST_AGENT, "--socket", sb.socketPath(), "--domid",
                                     std::to_string(domid)};
    args.insert(args.end(), extraArgs.begin(), extraArgs.end());
    std::vector<char*> argv;
    for (std::string& a : args)
        argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    const int rc = ::posix_spawn(&pid_, XENRDP_GUEST_AGENT, &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(fds[1]);
    out_ = fds[0];
    if (rc != 0) {
        ::close(out_);
        throw std::runtime_error("posix_spawn of the guest agent failed");
    }
}

AgentProcess::~AgentProcess()
{
    if (pid_ > 0) {
        ::kill(pid_, SIGTERM);
        // Bounded wait for a clean exit, then force it.
        const auto end = std::chrono::steady_clock::now() + 5s;
        int status = 0;
        while (::waitpid(pid_, &status, WNOHANG) == 0) {
            if (std::chrono::steady_clock::now() >= end) {
                ::kill(pid_, SIGKILL);
                ::waitpid(pid_, &status, 0);
                break;
            }
            pollfd none{-1, 0, 0};
            ::poll(&none, 0, 10);  // yield while the agent exits
        }
    }
    if (out_ >= 0)
        ::close(out_);
}

bool AgentProcess::waitReady(std::chrono::milliseconds deadline)
{
    const auto end = std::chrono::steady_clock::now() + deadline;
    std::string seen;
    while (seen.find("ready") == std::string::npos) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            end - std::chrono::steady_clock::now());
        if (left.count() <= 0)
            return false;
        pollfd pfd{out_, POLLIN, 0};
        if (::poll(&pfd, 1, static_cast<int>(left.count())) <= 0)
            continue;
        char buf[256];
        const ssize_t n = ::read(out_, buf, sizeof buf);
        if (n <= 0)
            return false;
        seen.append(buf, static_cast<std::size_t>(n));
    }
    return true;
}

}  // namespace xenrdp::test
