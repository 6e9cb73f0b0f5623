#pragma once
// Test harness for the DomainWatcher against a real sandbox xenstored: one
// io_context run from the test thread, a Connection, an ObjectStore and the
// watcher, plus a child process running the simulated guest agent.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <sys/types.h>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/require.hpp>
#include <spdlog/logger.h>
#include <spdlog/sinks/ostream_sink.h>

#include <daemon/domain_watcher.hpp>
#include <metrics/object_store.hpp>
#include <metrics/records.hpp>
#include <sandbox.hpp>
#include <xenstore/connection.hpp>

namespace xenrdp::test {

using namespace std::chrono_literals;

/// Generous bound for anything that should happen "soon" on a loaded CI box.
inline constexpr std::chrono::milliseconds kDeadline = 10s;
/// Bound for "another guest's update still arrives promptly".
inline constexpr std::chrono::milliseconds kPrompt = 2s;

inline constexpr const char* kHostRef = "OpaqueRef:11111111-2222-3333-4444-555555555555";

/// The path of a node of domain `domid`.
std::string dom(std::uint32_t domid, const std::string& rel);

class Engine {
public:
    explicit Engine(sandbox::XenstoredSandbox& sb, daemon::DomainWatcherOptions opts = {});
    ~Engine();

    /// Starts the connection and the watcher; waits for the initial scan.
    void start();
    /// Runs the io_context until `done()` holds or `deadline` passes.
    bool runUntil(const std::function<bool()>& done, std::chrono::milliseconds deadline = kDeadline);
    /// Runs until the watcher has no read job left (or the deadline).
    bool settle(std::chrono::milliseconds deadline = kDeadline);

    const metrics::VmRecord* vm(const std::string& uuid) const;
    std::optional<std::string> vmRef(const std::string& uuid) const;
    /// The guest-metrics record the VM points at, or null.
    const metrics::GuestMetricsRecord* gm(const std::string& uuid) const;
    /// other[key] of the VM's guest metrics, if both exist.
    std::optional<std::string> other(const std::string& uuid, const std::string& key) const;

    /// How many log lines contain `needle`.
    std::size_t logCount(const std::string& needle) const;

    boost::asio::io_context io;
    /// Keeps run_one_for from stopping the io_context when it runs out of
    /// work (results arrive from the xenstore thread).
    boost::asio::any_io_executor work =
        boost::asio::require(io.get_executor(), boost::asio::execution::outstanding_work.tracked);
    metrics::ObjectStore store;
    std::unique_ptr<xenstore::Connection> conn;
    std::unique_ptr<daemon::DomainWatcher> watcher;

private:
    std::shared_ptr<std::ostringstream> logText_;
};

/// The simulated guest agent (xenrdp-guest-agent) as a child process,
/// killed (SIGTERM, then SIGKILL) when this goes.
class AgentProcess {
public:
    AgentProcess(const sandbox::XenstoredSandbox& sb, std::uint32_t domid,
                 std::vector<std::string> extraArgs);
    AgentProcess(const AgentProcess&) = delete;
    AgentProcess& operator=(const AgentProcess&) = delete;
    ~AgentProcess();
    /// Waits (bounded) for the agent's "ready" line.
    bool waitReady(std::chrono::milliseconds deadline = kDeadline);

private:
    pid_t pid_ = -1;
    int out_ = -1;
};

}  // namespace xenrdp::test
