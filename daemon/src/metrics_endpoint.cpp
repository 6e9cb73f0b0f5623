#include "metrics_endpoint.hpp"

#include <metrics/object_store.hpp>
#include <metrics/records.hpp>
#include <xapi_rpc/dispatch/dispatcher.hpp>
#include <xenstore/connection.hpp>

#include <spdlog/spdlog.h>

#include <array>
#include <charconv>
#include <exception>
#include <string_view>

namespace xenrdp::daemon {

namespace transport = xapi_rpc::transport;

namespace {

constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";

/// Shortest text that reads back as the same double ("0.0025", "30", "1e-05").
std::string number(double v)
{
    std::array<char, 64> buf{};
    auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), v);
    if (ec != std::errc())
        return "NaN";
    return std::string(buf.data(), end);
}

/// Writes families in the text format; one family's samples must be
/// written together, right after its header.
class Writer {
public:
    void family(std::string_view name, std::string_view type, std::string_view help)
    {
        out_ += "# HELP ";
        out_ += name;
        out_ += ' ';
        // HELP text escapes only backslash and newline.
        for (char c : help) {
            if (c == '\\')
                out_ += "\\\\";
            else if (c == '\n')
                out_ += "\\n";
            else
                out_ += c;
        }
        out_ += "\n# TYPE ";
        out_ += name;
        out_ += ' ';
        out_ += type;
        out_ += '\n';
    }

    void sample(std::string_view name, std::string_view labelName, const std::string& labelValue,
                std::string_view value)
    {
        out_ += name;
        if (!labelName.empty()) {
            out_ += '{';
            out_ += labelName;
            out_ += "=\"";
            out_ += escapeLabelValue(labelValue);
            out_ += "\"}";
        }
        out_ += ' ';
        out_ += value;
        out_ += '\n';
    }

    void sample(std::string_view name, std::uint64_t value) { sample(name, {}, {}, std::to_string(value)); }

    std::string take() { return std::move(out_); }

private:
    std::string out_;
};

void counter(Writer& w, std::string_view name, std::string_view help, std::uint64_t value)
{
    w.family(name, "counter", help);
    w.sample(name, value);
}

void gauge(Writer& w, std::string_view name, std::string_view help, std::uint64_t value)
{
    w.family(name, "gauge", help);
    w.sample(name, value);
}

}  // namespace

std::string escapeLabelValue(const std::string& value)
{
    std::string out;
    out.reserve(value.size());
    for (char c : value) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '"')
            out += "\\\"";
        else if (c == '\n')
            out += "\\n";
        else
            out += c;
    }
    return out;
}

std::string formatMetrics(const MetricsSample& s)
{
    Writer w;
    const auto& d = s.dispatch;

    w.family("xenrdpd_build_info", "gauge", "Always 1; the version of the running xenrdpd is in the label.");
    w.sample("xenrdpd_build_info", "version", s.version, "1");

    // Calls and failures by method, failures by XenAPI error code.
    w.family("xenrdpd_calls_total", "counter", "XenAPI calls answered, by method.");
    for (const auto& [method, stats] : d.methods)
        w.sample("xenrdpd_calls_total", "method", method, std::to_string(stats.calls));
    w.family("xenrdpd_call_errors_total", "counter", "XenAPI calls answered with a failure, by method.");
    for (const auto& [method, stats] : d.methods)
        w.sample("xenrdpd_call_errors_total", "method", method, std::to_string(stats.errors));
    w.family("xenrdpd_xenapi_errors_total", "counter", "XenAPI failures sent, by error code.");
    for (const auto& [code, n] : d.errors)
        w.sample("xenrdpd_xenapi_errors_total", "code", code, std::to_string(n));

    // The dispatcher's buckets are per interval; Prometheus wants them cumulative.
    constexpr std::string_view hist = "xenrdpd_call_duration_seconds";
    w.family(hist, "histogram", "Time from a decoded XenAPI request to its answer being ready.");
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < d.latencyBounds.size(); ++i) {
        cumulative += d.latencyBuckets[i];
        w.sample("xenrdpd_call_duration_seconds_bucket", "le", number(d.latencyBounds[i]),
                 std::to_string(cumulative));
    }
    cumulative += d.latencyBuckets.back();
    w.sample("xenrdpd_call_duration_seconds_bucket", "le", "+Inf", std::to_string(cumulative));
    w.sample("xenrdpd_call_duration_seconds_sum", {}, {}, number(d.latencySumSeconds));
    w.sample("xenrdpd_call_duration_seconds_count", cumulative);

    w.family("xenrdpd_logins_total", "counter", "Login attempts, by result.");
    w.sample("xenrdpd_logins_total", "result", "success", std::to_string(d.loginsSucceeded));
    w.sample("xenrdpd_logins_total", "result", "failure", std::to_string(d.loginsFailed));
    gauge(w, "xenrdpd_sessions", "Live XenAPI sessions.", d.sessions);
    gauge(w, "xenrdpd_event_waiters", "event.from and event.next calls waiting now.", d.eventWaiters);
    counter(w, "xenrdpd_rdp_requests_total", "RDP on/off requests written to guests.", d.rdpRequests);

    // Guest watching and xenstore.
    counter(w, "xenrdpd_watch_events_total", "Guest xenstore watch events received.", s.watcher.watchEvents);
    counter(w, "xenrdpd_watch_events_ignored_total", "Guest watch events whose path was rejected.",
            s.watcher.ignoredEvents);
    counter(w, "xenrdpd_domain_scans_total", "Rescans of /local/domain completed.", s.watcher.scans);
    counter(w, "xenrdpd_guest_metrics_updates_total", "Guest-metrics records that changed.",
            s.watcher.recordUpdates);
    gauge(w, "xenrdpd_domains_watched", "Guest domains watched now (the control domain is not one).",
          s.domainsWatched);
    counter(w, "xenrdpd_xenstore_reconnects_total", "Reconnections to xenstored after the first connect.",
            s.xenstoreReconnects);

    // HTTP transport.
    gauge(w, "xenrdpd_http_connections_open", "Client connections open now.", s.http.openConnections);
    counter(w, "xenrdpd_http_connections_accepted_total", "Client connections accepted.", s.http.acceptedTotal);
    counter(w, "xenrdpd_http_connections_rejected_total", "Client connections refused at the connection limit.",
            s.http.rejectedTotal);
    counter(w, "xenrdpd_http_requests_total", "HTTP requests passed to a handler.", s.http.requestsTotal);

    w.family("xenrdpd_vms", "gauge", "VMs known, by power state.");
    for (const auto& [state, n] : s.vmsByPowerState)
        w.sample("xenrdpd_vms", "power_state", state, std::to_string(n));

    if (s.hasConsoleTokens)
        gauge(w, "xenrdpd_console_tokens", "Console tokens valid now.", s.consoleTokens);
    return w.take();
}

MetricsEndpoint::MetricsEndpoint(MetricsSources sources, std::shared_ptr<spdlog::logger> logger)
    : sources_(std::move(sources)), log_(std::move(logger))
{
}

bool MetricsEndpoint::accepts(const transport::HttpRequest& req)
{
    std::string_view target = req.target;
    target = target.substr(0, target.find('?'));
    return target == "/metrics";
}

MetricsSample MetricsEndpoint::sample() const
{
    MetricsSample s;
    s.version = sources_.version;
    s.dispatch = sources_.dispatcher.counters();
    if (server_ != nullptr)
        s.http = server_->counters();
    s.watcher = sources_.watcher.stats();
    s.domainsWatched = sources_.watcher.watchedDomains();
    s.xenstoreReconnects = sources_.xenstore.reconnectCount();
    for (auto state : {metrics::PowerState::Halted, metrics::PowerState::Paused, metrics::PowerState::Running,
                       metrics::PowerState::Suspended})
        s.vmsByPowerState[metrics::powerStateName(state)] = 0;
    // Visited, not copied: at 10,000 VMs a copy of every ref per scrape
    // cost ~10 ms of the io thread.
    sources_.store.forEach(metrics::ObjectClass::Vm,
                           [&s](const std::string&, const metrics::Record& record) {
                               if (const auto* vm = std::get_if<metrics::VmRecord>(&record))
                                   ++s.vmsByPowerState[metrics::powerStateName(vm->powerState)];
                           });
    if (consoleTokens_) {
        s.hasConsoleTokens = true;
        s.consoleTokens = consoleTokens_();
    }
    return s;
}

void MetricsEndpoint::handle(transport::HttpRequest req, const transport::PeerInfo& peer,
                             transport::Respond respond)
{
    if (req.method != "GET") {
        respond(transport::HttpResponse{405, {{"Content-Type", "text/plain"}, {"Allow", "GET"}}, "only GET\n"});
        return;
    }
    try {
        std::string body = formatMetrics(sample());
        if (log_)
            log_->debug("METRICS_SCRAPE peer={} bytes={}", peer.address, body.size());
        respond(transport::HttpResponse{200, {{"Content-Type", kContentType}}, std::move(body)});
    } catch (const std::exception& e) {
        if (log_)
            log_->error("METRICS_FAILED error={}", e.what());
        respond(transport::HttpResponse{500, {{"Content-Type", "text/plain"}}, "metrics unavailable\n"});
    }
}

}  // namespace xenrdp::daemon
