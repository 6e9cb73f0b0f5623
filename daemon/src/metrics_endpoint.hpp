#pragma once
/// MetricsEndpoint: GET /metrics in the Prometheus text exposition format
/// (version 0.0.4), built from the counters the other parts already keep.
///
/// What it exposes is counts only: method names from the dispatcher's fixed
/// registry (unknown names are folded into "<unknown>" by the dispatcher),
/// XenAPI error codes, connection and watch counts, VMs per power state and
/// the version.  No VM name or uuid, user, address or token ever appears, so
/// it is served without authentication, like most exporters; the
/// `metrics-endpoint = false` setting removes it (docs/METRICS.md).
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include <xapi_rpc/dispatch/counters.hpp>
#include <xapi_rpc/transport/http_server.hpp>
#include <xapi_rpc/transport/request_handler.hpp>

#include <daemon/domain_watcher.hpp>

namespace spdlog {
class logger;
}

namespace xenrdp::metrics {
class ObjectStore;
}
namespace xenrdp::xenstore {
class Connection;
}
namespace xenrdp::xapi_rpc::dispatch {
class Dispatcher;
}

namespace xenrdp::daemon {

/// Every value one scrape shows, copied out of the live parts.
struct MetricsSample {
    std::string version;
    xapi_rpc::dispatch::DispatchCounters dispatch;
    xapi_rpc::transport::ServerCounters http;
    DomainWatcherStats watcher;
    std::size_t domainsWatched = 0;
    std::uint64_t xenstoreReconnects = 0;
    std::map<std::string, std::size_t> vmsByPowerState;  ///< "Running" -> n; every state present
    bool hasConsoleTokens = false;
    std::size_t consoleTokens = 0;
};

/// Renders a sample as Prometheus text format 0.0.4: HELP and TYPE for every
/// family, counters ending in _total, the latency histogram cumulative with
/// le="+Inf" equal to _count, label values escaped (\\, \", \n).  Pure.
std::string formatMetrics(const MetricsSample& sample);

/// Escapes a label value for the text format (backslash, double quote, newline).
std::string escapeLabelValue(const std::string& value);

/// The parts a scrape reads.  References must outlive the endpoint.
struct MetricsSources {
    const xapi_rpc::dispatch::Dispatcher& dispatcher;
    const DomainWatcher& watcher;
    const xenstore::Connection& xenstore;
    const metrics::ObjectStore& store;
    std::string version;
};

/// The RequestHandler for /metrics.  Answers GET with the rendered sample
/// (Content-Type "text/plain; version=0.0.4; charset=utf-8"), other methods
/// with 405.
///
/// Threading: handle() and every setter run on the io executor, where the
/// sources keep their counters, so nothing is locked.
/// Failure: never throws out of handle(); a failure to render answers 500.
class MetricsEndpoint final : public xapi_rpc::transport::RequestHandler {
public:
    MetricsEndpoint(MetricsSources sources, std::shared_ptr<spdlog::logger> logger);

    /// True for a request to /metrics (with or without a query string).
    static bool accepts(const xapi_rpc::transport::HttpRequest& req);

    /// The server whose connection counters to show; until set they read 0.
    void attachServer(const xapi_rpc::transport::HttpServer& server) { server_ = &server; }
    /// Hook for the console token store: the number of live tokens.  Until
    /// set, xenrdpd_console_tokens is not exposed.
    void setConsoleTokenCount(std::function<std::size_t()> count) { consoleTokens_ = std::move(count); }

    /// Copies the current values out of the sources.
    MetricsSample sample() const;

    void handle(xapi_rpc::transport::HttpRequest req, const xapi_rpc::transport::PeerInfo& peer,
                xapi_rpc::transport::Respond respond) override;

private:
    MetricsSources sources_;
    std::shared_ptr<spdlog::logger> log_;
    const xapi_rpc::transport::HttpServer* server_ = nullptr;
    std::function<std::size_t()> consoleTokens_;
};

}  // namespace xenrdp::daemon
