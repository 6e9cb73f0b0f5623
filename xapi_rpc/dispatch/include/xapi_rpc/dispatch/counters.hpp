#pragma once
/// Plain counters of the dispatch layer, for a metrics endpoint to format.
#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

namespace xenrdp::xapi_rpc::dispatch {

/// Calls of one method.
struct MethodStats {
    std::uint64_t calls = 0;
    std::uint64_t errors = 0;  ///< calls answered with a XenAPI failure
};

/// What the Dispatcher has done so far. Read it on the io executor (the
/// Dispatcher updates it there); copy it to hand it elsewhere.
struct DispatchCounters {
    /// Upper bounds (seconds) of the latency buckets; one more bucket, +Inf, follows.
    static constexpr std::array<double, 12> latencyBounds{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                          0.1,   0.25,   0.5,   1.0,  5.0,   30.0};
    /// By method name. Names the dispatcher does not serve are counted under
    /// "<unknown>", so clients cannot grow this map.
    std::map<std::string, MethodStats> methods;
    /// Failures by XenAPI error code ("SESSION_INVALID", ...).
    std::map<std::string, std::uint64_t> errors;
    /// Call latency (request decoded to answer ready), not cumulative:
    /// latencyBuckets[i] counts calls with latency <= latencyBounds[i] and
    /// > the previous bound; the last entry counts the rest.
    std::array<std::uint64_t, latencyBounds.size() + 1> latencyBuckets{};
    double latencySumSeconds = 0.0;
    std::uint64_t latencyCount = 0;
    std::uint64_t loginsSucceeded = 0;
    std::uint64_t loginsFailed = 0;
    std::size_t sessions = 0;          ///< live sessions now
    std::size_t eventWaiters = 0;      ///< event.from / event.next calls waiting now
    std::uint64_t rdpRequests = 0;     ///< GuestControl::requestRdp calls made
};

}  // namespace xenrdp::xapi_rpc::dispatch
