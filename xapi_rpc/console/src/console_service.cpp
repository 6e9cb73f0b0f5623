#include <xapi_rpc/console/console_service.hpp>

#include <spdlog/spdlog.h>

namespace xenrdp::xapi_rpc::console {

ConsoleService::ConsoleService(boost::asio::any_io_executor io, metrics::ObjectStore& store,
                               auth::Authenticator& authenticator, const auth::LoginThrottle& throttle,
                               dispatch::SessionManager& sessions, ConsoleServiceOptions options,
                               std::shared_ptr<spdlog::logger> logger)
    : options_(std::move(options)), log_(logger), tokens_(options_.tokenTtl),
      tracker_(io, store, options_.nova.rdpPort, logger),
      handler_(io, store, authenticator, throttle, sessions, tokens_, options_.nova, logger), sweep_(io)
{
    tracker_.onVmStopped([self = this](const std::string& vmRef, std::int64_t domid) {
        const std::size_t dropped = self->tokens_.dropVm(vmRef, domid);
        if (dropped != 0 && self->log_)
            self->log_->info("CONSOLE_TOKENS_DROPPED vm={} domid={} count={}", vmRef, domid, dropped);
    });
}

ConsoleService::~ConsoleService() { stop(); }

void ConsoleService::start()
{
    running_ = true;
    tracker_.start();
    armSweep();
}

void ConsoleService::stop() noexcept
{
    running_ = false;
    tracker_.stop();
    sweep_.cancel();
}

void ConsoleService::reconfigure(const ConsoleServiceOptions& options)
{
    options_ = options;
    tokens_.setTtl(options.tokenTtl);
    handler_.setOptions(options.nova);
    tracker_.setRdpPort(options.nova.rdpPort);
}

void ConsoleService::armSweep()
{
    if (!running_) return;
    sweep_.expires_after(options_.sweepInterval);
    // The timer dies with the service, so `this` outlives the wait; a
    // cancelled wait returns at once.
    sweep_.async_wait([self = this](const boost::system::error_code& ec) {
        if (ec || !self->running_) return;
        try {
            const std::size_t swept = self->tokens_.sweep();
            if (swept != 0 && self->log_) self->log_->debug("CONSOLE_TOKENS_SWEPT count={}", swept);
        } catch (const std::exception& e) {
            if (self->log_) self->log_->error("CONSOLE_SWEEP_FAILED error={}", e.what());
        }
        self->armSweep();
    });
}

}  // namespace xenrdp::xapi_rpc::console
