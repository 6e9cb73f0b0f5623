#pragma once
/// DomainWatcher: follows the domains in xenstore and keeps their VM and
/// VM_guest_metrics records in the ObjectStore as xapi does.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/any_io_executor.hpp>

#include <metrics/guest_rules.hpp>
#include <metrics/records.hpp>

namespace spdlog {
class logger;
}

namespace xenrdp::metrics {
class ObjectStore;
}

namespace xenrdp::xenstore {
class Connection;
}

namespace xenrdp::daemon {

/// Reader handles to give the xenstore::Connection a DomainWatcher uses
/// (ConnectionOptions::readers): its per-guest reads go through postRead(),
/// and at 1,000 guests four readers start it 2.7x faster than none, eight
/// hardly faster than four (docs/PERFORMANCE.md).
inline constexpr std::size_t kXenstoreReaders = 4;

struct DomainWatcherOptions {
    /// The host every running VM is resident on (VM.resident_on).
    std::string hostRef = metrics::kNullRef;
    /// Caps on what one guest can make the daemon keep.
    metrics::GuestLimits limits;
    /// "daemon" module logger; null means no logging.
    std::shared_ptr<spdlog::logger> logger;
};

/// Counters for the daemon's own metrics.  Monotonic.
struct DomainWatcherStats {
    std::uint64_t watchEvents = 0;    ///< guest watch firings received
    std::uint64_t ignoredEvents = 0;  ///< firings whose path was rejected
    std::uint64_t readJobs = 0;       ///< per-domain read jobs completed
    std::uint64_t readRequests = 0;   ///< xenstore requests those jobs made
    std::uint64_t scans = 0;          ///< /local/domain rescans completed
    std::uint64_t recordUpdates = 0;  ///< guest-metrics records that changed
};

class DomainWatcherImpl;

/// Watches /local/domain: discovers domains at start and on
/// @introduceDomain, marks them Halted on @releaseDomain, and for each
/// running guest watches control/, data/ts, attr/, feature/hotplug/,
/// data/service/ and xenserver/attr/ (as xenopsd does), re-reading what an
/// event points at and publishing the derived VM_guest_metrics fields
/// (metrics::deriveGuestFields) when they change.
/// After a xenstored restart (Connection's onReconnected) it rebuilds from
/// xenstore and publishes only differences.
///
/// Guests are untrusted: event paths are parsed strictly, nothing outside
/// /local/domain/<domid> of a domid the watcher validated is read, values
/// are sanitized and counts capped (one warning per guest per kind; a
/// directory over its cap keeps its first children in sorted order, however
/// and whenever they were written), and a guest that floods writes gets at
/// most one read job queued at a time, its dirty paths coalesced meanwhile,
/// so every domain is served in turn; its unwatched extras (data/os_*, ...)
/// are still read at least every other job.
///
/// Log events: DOMAIN_DISCOVERED, DOMAIN_RELEASED, DOMAIN_IGNORED (bad
/// uuid, once per domid), DOMAIN_RESYNC, DOMAIN_SCAN_FAILED, and once per
/// guest and kind GUEST_LIMIT_EXCEEDED kind=children|total_keys,
/// GUEST_VALUE_SANITIZED, GUEST_EVENT_IGNORED; DOMAIN_WATCHER_ERROR for an
/// exception caught in a handler.
///
/// Ownership: references `xs` and `store`, which must outlive it.
/// Threading: construct, call and destroy on the io executor `io`, the one
/// that runs the Connection's handlers and owns the store.  All xenstore
/// requests go through Connection::post (scans, and the empty job that tells
/// when a new guest's watches are registered) and Connection::postRead (the
/// reads of one guest, at most one job per guest at a time); nothing here
/// blocks.
/// Failure: no exception escapes a handler; xenstore errors are logged and
/// the state is rebuilt on reconnection.  The constructor and start() throw
/// only std::bad_alloc.
class DomainWatcher {
public:
    DomainWatcher(boost::asio::any_io_executor io, xenstore::Connection& xs,
                  metrics::ObjectStore& store, DomainWatcherOptions opts);
    DomainWatcher(const DomainWatcher&) = delete;
    DomainWatcher& operator=(const DomainWatcher&) = delete;
    /// Calls stop().
    ~DomainWatcher();

    /// Registers the @introduceDomain / @releaseDomain watches and scans
    /// /local/domain.  `onInitialScanDone` runs once on the io executor when
    /// every domain found by the first scan has its records in the store.
    /// Call once, before or after Connection::start().
    void start(std::function<void()> onInitialScanDone = {});
    /// Drops every watch; results still in flight are discarded.  The
    /// records stay in the store as they are.  Idempotent.
    void stop();

    /// Guest domains currently watched (the control domain is not one).
    std::size_t watchedDomains() const noexcept;
    /// The domid of a running VM known to the watcher.
    std::optional<std::int64_t> domidOf(const std::string& vmRef) const;
    /// xenstore jobs (scans, discoveries, reads) queued or running; 0 when idle.
    std::size_t pendingJobs() const noexcept;
    DomainWatcherStats stats() const noexcept;

private:
    std::shared_ptr<DomainWatcherImpl> impl_;
};

}  // namespace xenrdp::daemon
