#pragma once
/// ConsoleService: the console part, assembled.  Owns the token store, the
/// ConsoleTracker (XenAPI console objects) and the NovaConsoleHandler, drops
/// a VM's tokens when the tracker sees it halt, reboot or go, and sweeps
/// expired tokens on a steady_timer.
///
/// Threading: single io thread; construct, start(), stop(), reconfigure()
/// and destroy on the io executor.  Ownership: references the store,
/// authenticator, throttle and sessions, which must outlive it.
/// Failure: the constructor throws only std::bad_alloc; nothing else throws.
#include <chrono>
#include <memory>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <xapi_rpc/console/console_tracker.hpp>
#include <xapi_rpc/console/nova_console_handler.hpp>
#include <xapi_rpc/console/token_store.hpp>

namespace xenrdp::xapi_rpc::console {

struct ConsoleServiceOptions {
    NovaConsoleOptions nova;
    std::chrono::milliseconds tokenTtl{std::chrono::minutes(10)};
    std::chrono::milliseconds sweepInterval{std::chrono::minutes(1)};
};

class ConsoleService {
public:
    ConsoleService(boost::asio::any_io_executor io, metrics::ObjectStore& store,
                   auth::Authenticator& authenticator, const auth::LoginThrottle& throttle,
                   dispatch::SessionManager& sessions, ConsoleServiceOptions options,
                   std::shared_ptr<spdlog::logger> logger = nullptr);
    ~ConsoleService();
    ConsoleService(const ConsoleService&) = delete;
    ConsoleService& operator=(const ConsoleService&) = delete;

    /// Starts following the store and sweeping.
    void start();
    /// Stops both; the handler still answers.
    void stop() noexcept;
    /// The console switch, proxy URL, TTL (for new tokens) and the RDP port
    /// (new tokens, and every console object's location) apply at once.
    void reconfigure(const ConsoleServiceOptions& options);

    NovaConsoleHandler& handler() noexcept { return handler_; }
    ConsoleTokenStore& tokens() noexcept { return tokens_; }
    ConsoleTracker& tracker() noexcept { return tracker_; }

private:
    void armSweep();

    ConsoleServiceOptions options_;
    std::shared_ptr<spdlog::logger> log_;
    ConsoleTokenStore tokens_;
    ConsoleTracker tracker_;
    NovaConsoleHandler handler_;
    boost::asio::steady_timer sweep_;
    bool running_ = false;
};

}  // namespace xenrdp::xapi_rpc::console
