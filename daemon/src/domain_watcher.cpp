#include <daemon/domain_watcher.hpp>

#include <algorithm>
#include <bitset>
#include <chrono>
#include <exception>
#include <iterator>
#include <map>
#include <set>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include <metrics/object_store.hpp>
#include <xenstore/client.hpp>
#include <xenstore/connection.hpp>

#include "domain_paths.hpp"

namespace xenrdp::daemon {

using detail::DomainPath;
using detail::ReadOp;

namespace {

/// Kinds of hostile input, each logged once per guest.
enum class WarnKind : std::size_t { Children, TotalKeys, Value, Path, Count };

const char* warnKindName(WarnKind kind)
{
    switch (kind) {
    case WarnKind::Children: return "children";
    case WarnKind::TotalKeys: return "total_keys";
    case WarnKind::Value: return "value";
    case WarnKind::Path: return "path";
    case WarnKind::Count: break;
    }
    return "?";
}

/// The result of one ReadOp, produced on the xenstore executor.
struct OpResult {
    ReadOp op;
    std::vector<std::pair<std::string, std::string>> nodes;  ///< (rel, sanitized value)
    std::string cappedDir;      ///< a directory whose children were cut (first one seen)
    std::string sanitizedPath;  ///< a node whose value was altered (first one seen)
    bool budgetExhausted = false;
};

/// What a read job brings back.  Owned by the job and its completion only.
struct ReadBatch {
    std::vector<OpResult> results;
    std::uint64_t requests = 0;
    bool lost = false;  ///< the connection died during the job: results are unusable
};

struct Identity {
    bool present = false;  ///< /local/domain/<domid> exists
    std::optional<std::string> uuid;
    std::string rawVm;     ///< the vm node as read (sanitized), for the warning
    std::string name;
    bool hvm = false;
};

struct DiscoverResult {
    Identity identity;
    ReadBatch tree;
};

struct ScanResult {
    bool ok = false;
    bool lost = false;
    std::string error;
    std::vector<std::uint32_t> present;  ///< listed and introduced (domid 0 always)
    std::uint64_t requests = 0;
};

enum ScanFlags : unsigned {
    kCheckNew = 1U,    ///< look for introduced domids not known yet
    kCheckKnown = 2U,  ///< ask xenstored whether known domids are still introduced
    kFull = 4U,        ///< re-discover every present domain (identity and tree)
};

/// Runs on the xenstore executor: reads of one domain, bounded by the
/// limits.  Request errors other than a lost connection count as absence
/// (dom0 may read everything, so they are not expected).
class Reader {
public:
    Reader(xenstore::Client& client, std::uint32_t domid, const metrics::GuestLimits& limits,
           ReadBatch& batch)
        : client_(client), base_(detail::domainPath(domid)), limits_(limits), batch_(batch),
          budget_(limits.maxTotalKeys)
    {
    }

    void run(const ReadOp& op)
    {
        OpResult result;
        result.op = op;
        if (op.depth == 0) {
            if (auto value = read(op.rel))
                addNode(result, op.rel, *value);
        } else if (auto children = directory(op.rel)) {
            if (children->empty() && !detail::isListingRoot(op.rel)) {
                if (auto value = read(op.rel))
                    addNode(result, op.rel, *value);  // a leaf after all
            } else {
                list(result, op.rel, std::move(*children), op.depth);
            }
        }
        batch_.results.push_back(std::move(result));
    }

    /// Runs `ops`, one OpResult each, as run() would; but single-node reads
    /// (depth 0) of three or more children of one directory are answered
    /// from one listing of that directory first, so that the absent ones
    /// cost nothing (most of the unwatched extras, data/os_* and friends,
    /// are absent on most guests, and at thousands of domains each xenstored
    /// request costs milliseconds).  A listing that fails for another reason
    /// than absence falls back to reading each node.
    void runAll(const std::vector<ReadOp>& ops)
    {
        std::map<std::string_view, std::size_t> siblings;
        for (const ReadOp& op : ops)
            if (op.depth == 0)
                ++siblings[detail::parentOf(op.rel)];
        std::map<std::string_view, std::set<std::string, std::less<>>> listed;
        for (const auto& [parent, count] : siblings) {
            if (count < 3 || parent.empty())
                continue;
            if (auto names = listing(std::string(parent)))
                listed.emplace(parent, std::set<std::string, std::less<>>(names->begin(), names->end()));
        }
        for (const ReadOp& op : ops) {
            auto dir = op.depth == 0 ? listed.find(detail::parentOf(op.rel)) : listed.end();
            if (dir == listed.end()) {
                run(op);
                continue;
            }
            OpResult result;
            result.op = op;
            const std::string_view name = std::string_view(op.rel).substr(dir->first.size() + 1);
            if (dir->second.contains(name)) {
                if (auto value = read(op.rel))
                    addNode(result, op.rel, *value);
            }
            batch_.results.push_back(std::move(result));
        }
    }

    std::optional<std::string> read(const std::string& rel)
    {
        if (batch_.lost)
            return std::nullopt;
        std::error_code ec;
        ++batch_.requests;
        auto value = client_.read(base_ + "/" + rel, ec);
        if (ec) {
            batch_.lost = client_.lost();
            return std::nullopt;
        }
        return value;
    }

private:
    /// The children of `rel`: empty if it does not exist; nullopt if the
    /// listing failed (then the caller reads node by node).
    std::optional<std::vector<std::string>> listing(const std::string& rel)
    {
        bool failed = false;
        auto names = directory(rel, &failed);
        if (failed)
            return std::nullopt;
        return names ? std::move(*names) : std::vector<std::string>{};
    }

    /// The children of `rel`, or nullopt if it does not exist or the request
    /// failed (then `*failed`, if given, is set).
    std::optional<std::vector<std::string>> directory(const std::string& rel,
                                                      bool* failed = nullptr)
    {
        std::error_code ec;
        std::optional<std::vector<std::string>> names;
        if (!batch_.lost) {
            ++batch_.requests;
            names = client_.directory(base_ + "/" + rel, ec);
            if (ec)
                batch_.lost = client_.lost();
        }
        if (failed != nullptr)
            *failed = batch_.lost || static_cast<bool>(ec);
        return ec ? std::nullopt : names;
    }

    void addNode(OpResult& result, const std::string& rel, const std::string& raw)
    {
        bool changed = false;
        std::string value = metrics::sanitizeGuestValue(raw, limits_.maxValueBytes, &changed);
        if (changed && result.sanitizedPath.empty())
            result.sanitizedPath = rel;
        result.nodes.emplace_back(rel, std::move(value));
    }

    /// Keeps leaves, and nodes at the deepest kept level, below `rel`.
    void list(OpResult& result, const std::string& rel, std::vector<std::string> children,
              int depth)
    {
        // Names never kept go before the cut, so that the kept children are
        // exactly the first ones in sorted order (what capAt() relies on).
        std::erase_if(children, [this, &rel](const std::string& child) {
            const std::string childRel = rel + "/" + child;
            return !detail::parseDomainPath(base_ + "/" + childRel) ||
                   detail::excludedFromListing(childRel);
        });
        // Sorted so that a cut keeps the same children every time.
        std::sort(children.begin(), children.end());
        if (children.size() > limits_.maxKeysPerTree) {
            children.resize(limits_.maxKeysPerTree);
            if (result.cappedDir.empty())
                result.cappedDir = rel;
        }
        for (const std::string& child : children) {
            if (budget_ == 0) {
                result.budgetExhausted = true;
                return;
            }
            const std::string childRel = rel + "/" + child;
            if (depth > 1) {
                auto grand = directory(childRel);
                if (grand && !grand->empty()) {
                    list(result, childRel, std::move(*grand), depth - 1);
                    continue;
                }
            }
            if (auto value = read(childRel)) {
                --budget_;
                addNode(result, childRel, *value);
            }
        }
    }

    xenstore::Client& client_;
    std::string base_;
    const metrics::GuestLimits& limits_;
    ReadBatch& batch_;
    std::size_t budget_;
};

/// Reads the identity of a domain (toolstack-written nodes, validated).
Identity readIdentity(xenstore::Client& client, std::uint32_t domid,
                      const metrics::GuestLimits& limits, ReadBatch& batch)
{
    Identity id;
    Reader reader(client, domid, limits, batch);
    std::error_code ec;
    ++batch.requests;
    auto node = client.read(detail::domainPath(domid), ec);
    if (ec) {
        batch.lost = client.lost();
        return id;
    }
    if (!node)
        return id;
    id.present = true;
    auto vm = reader.read("vm");
    if (vm) {
        id.rawVm = metrics::sanitizeGuestValue(*vm, 128);
        if (auto vmId = detail::vmPathId(*vm)) {
            const std::string vmPath = "/vm/" + *vmId;
            id.uuid = detail::normalizeUuid(*vmId);
            if (!id.uuid) {
                // A vm path that is not the uuid itself: its uuid node says.
                ++batch.requests;
                auto uuid = client.read(vmPath + "/uuid", ec);
                if (ec)
                    batch.lost = batch.lost || client.lost();
                else if (uuid)
                    id.uuid = detail::normalizeUuid(*uuid);
            }
            if (id.uuid) {
                ++batch.requests;
                auto ostype = client.read(vmPath + "/image/ostype", ec);
                if (ec)
                    batch.lost = batch.lost || client.lost();
                else
                    id.hvm = ostype && *ostype == "hvm";
            }
        }
    }
    if (auto name = reader.read("name"))
        id.name = metrics::sanitizeGuestValue(*name, limits.maxValueBytes);
    return id;
}

/// The direct children of a directory among the kept keys.
struct KeptChildren {
    std::size_t count = 0;
    bool has = false;           ///< the child asked about is among them
    std::string_view last;      ///< the greatest name (a view into the tree)
};

/// Counts the kept children of `dir` without visiting their subtrees (one
/// lookup per child skips a child's keys), so that a guest event costs
/// O(children x log keys) however deep the directory is.
KeptChildren keptChildren(const metrics::GuestTree& tree, const std::string& dir,
                          std::string_view child)
{
    KeptChildren kept;
    const std::string prefix = dir + "/";
    std::string_view previous;
    auto it = tree.lower_bound(prefix);
    while (it != tree.end() && it->first.compare(0, prefix.size(), prefix) == 0) {
        const std::string_view rest = std::string_view(it->first).substr(prefix.size());
        const std::size_t slash = rest.find('/');
        const std::string_view name = rest.substr(0, slash);
        if (name != previous) {
            ++kept.count;
            kept.has = kept.has || name == child;
            kept.last = std::max(kept.last, name);
            previous = name;
        }
        if (slash == std::string_view::npos) {
            ++it;
        } else {
            // Past "<dir>/<name>/...": every path character sorts below 0x7f.
            it = tree.lower_bound(prefix + std::string(name) + "/\x7f");
        }
    }
    return kept;
}

/// Where a node stands with the per-directory cap of the directories
/// between its watched base and itself.
struct CapCheck {
    enum Kind {
        Fits,    ///< no directory on the way is full, or the node is kept already
        Beyond,  ///< a full directory, and the node sorts after all it keeps: never kept
        Relist,  ///< a full directory whose kept set the node may change
    } kind = Fits;
    std::string dir;  ///< the full directory (Beyond, Relist)
};

/// Walks from `rel`'s watched base down towards `rel`.  A listing keeps a
/// directory's first `cap` children in sorted order; a node arriving alone
/// must not decide otherwise.  At a directory holding `cap` kept children:
/// a node below a child not kept sorts either after them all (Beyond) or
/// among them (Relist); a node below a kept child is Fits for a result
/// (`forEvent` false), but Relist for an event, which may be its deletion
/// (and then the next child in order must come in).
CapCheck capAt(const metrics::GuestTree& tree, std::string_view rel, std::size_t cap,
               bool forEvent)
{
    const std::optional<std::string_view> base = detail::watchedBaseOf(rel);
    if (!base || rel == *base)
        return {};
    std::size_t end = base->size();  // rel[end] == '/'
    while (end != std::string_view::npos) {
        const std::string dir(rel.substr(0, end));
        const std::size_t next = rel.find('/', end + 1);
        const std::string_view child =
            rel.substr(end + 1, next == std::string_view::npos ? next : next - end - 1);
        const KeptChildren kept = keptChildren(tree, dir, child);
        const bool present = kept.has;
        if (kept.count >= cap) {
            if (!present && child > kept.last)
                return {CapCheck::Beyond, dir};
            if (!present || forEvent)
                return {CapCheck::Relist, dir};
        } else if (!present) {
            return {};  // room here, and all below the new child is new
        }
        end = next;
    }
    return {};
}

/// True the first time watch `index` fires (its firing at registration);
/// marks it seen.
bool firstFiring(std::vector<bool>& seen, std::size_t index)
{
    if (index >= seen.size() || seen[index])
        return false;
    seen[index] = true;
    return true;
}

/// Every read of a guest's tree; the same for every guest, so built once.
const std::vector<ReadOp>& fullTreeOps()
{
    static const std::vector<ReadOp> ops = [] {
        std::vector<ReadOp> all;
        for (const detail::WatchedBase& base : detail::watchedBases())
            all.push_back(ReadOp{std::string(base.rel), base.depth});
        const auto& extras = detail::extraReads();
        all.insert(all.end(), extras.begin(), extras.end());
        return detail::withoutCovered(std::move(all));
    }();
    return ops;
}

constexpr const char* kDom0Uuid = "00000000-0000-0000-0000-000000000000";

/// A guest watch's domid, epoch and index in watchedBases(), in one word.
struct WatchKey {
    std::uint64_t bits = 0;

    static WatchKey of(std::uint32_t domid, std::uint64_t epoch, std::size_t index)
    {
        // domid < kFirstReservedDomid (15 bits), index < 8, epoch < 2^46.
        return WatchKey{(epoch << 18) | (static_cast<std::uint64_t>(domid) << 3) |
                        static_cast<std::uint64_t>(index)};
    }
    std::uint32_t domid() const noexcept { return static_cast<std::uint32_t>((bits >> 3) & 0x7FFF); }
    std::uint64_t epoch() const noexcept { return bits >> 18; }
    std::size_t index() const noexcept { return static_cast<std::size_t>(bits & 7); }
};
static_assert(detail::kFirstReservedDomid <= 0x8000, "a domid fits in 15 bits");

}  // namespace

/// State and logic of the watcher; shared so that completions of jobs still
/// queued on the xenstore executor can tell (weak_ptr) that it is gone.
class DomainWatcherImpl : public std::enable_shared_from_this<DomainWatcherImpl> {
public:
    DomainWatcherImpl(boost::asio::any_io_executor io, xenstore::Connection& xs,
                      metrics::ObjectStore& store, DomainWatcherOptions opts)
        : io_(std::move(io)), xs_(xs), store_(store), opts_(std::move(opts)), log_(opts_.logger)
    {
    }

    void start(std::function<void()> onInitialScanDone);
    void stop();

    std::size_t watchedDomains() const noexcept { return watched_; }
    std::optional<std::int64_t> domidOf(const std::string& vmRef) const;
    std::size_t pendingJobs() const noexcept { return pendingJobs_; }
    DomainWatcherStats stats() const noexcept { return stats_; }

private:
    /// One running domain known to the watcher.
    struct Domain {
        std::uint32_t domid = 0;
        std::uint64_t epoch = 0;  ///< tells this incarnation from a later one with the same domid
        std::string uuid;
        std::string vmRef;
        std::string gmRef = metrics::kNullRef;
        bool control = false;
        metrics::GuestTree tree;
        std::vector<xenstore::Watch> watches;
        std::map<std::string, int> dirty;  ///< rel -> depth still to read
        bool extrasDirty = false;
        bool extrasPassedOver = false;  ///< the last job left due extras out
        bool jobPending = false;     ///< a read job (pump or refresh) is in flight
        bool refreshWanted = false;  ///< a full re-read waits for that job
        /// Watches (by index in watchedBases()) whose firing at registration
        /// has arrived.
        std::vector<bool> registrationSeen;
        /// The watches were armed before the tree was first read, so their
        /// firings at registration bring nothing new (see discover()).
        bool watchedBeforeRead = false;
        std::bitset<static_cast<std::size_t>(WarnKind::Count)> warned;
    };

    /// The watches of a domain not known yet, set up by discover() before
    /// its tree is read and handed to the Domain by attach().
    struct Prewatch {
        std::uint64_t epoch = 0;  ///< the epoch the Domain will have
        std::vector<xenstore::Watch> watches;
        std::vector<bool> registrationSeen;
        bool changed = false;  ///< a real event came while discovering
    };

    void requestScan(unsigned flags);
    void runScan();
    /// Completes a scan: which of `domids` (listed, not yet known to be
    /// there) xenstored has introduced, asked side by side on the readers.
    void checkIntroduced(unsigned flags, std::shared_ptr<ScanResult> result,
                         std::vector<std::uint32_t> domids);
    void onScanned(unsigned flags, ScanResult& result);
    void discover(std::uint32_t domid);
    void onDiscovered(std::uint32_t domid, DiscoverResult& result);
    void attach(std::uint32_t domid, const std::string& uuid, DiscoverResult& result,
                std::optional<Prewatch> pre);
    std::vector<xenstore::Watch> makeWatches(std::uint32_t domid, std::uint64_t epoch);
    void refresh(Domain& domain, DiscoverResult& result);
    void release(std::uint32_t domid);
    void onGuestEvent(std::uint32_t domid, std::uint64_t epoch, std::string_view path,
                      std::size_t watchIndex);
    bool dirtyCovers(const Domain& domain, const std::string& rel) const;
    void markDirty(Domain& domain, const ReadOp& op);
    void pump(Domain& domain);
    /// After a domain's read job: the refresh that waited for it, or the
    /// next read its events asked for.
    void afterJob(Domain& domain);
    void onReadDone(std::uint32_t domid, std::uint64_t epoch, ReadBatch& batch, bool extras);
    void applyBatch(Domain& domain, ReadBatch& batch);
    void applyResult(Domain& domain, OpResult& result);
    /// Puts a read result's nodes into the domain's tree, within the
    /// per-domain key budget.  Sorts `nodes` and may shorten it.
    void mergeNodes(Domain& domain, std::vector<std::pair<std::string, std::string>>& nodes);
    /// Derives the guest's fields from its tree and updates its
    /// guest-metrics record if they differ from the record's.
    void publish(Domain& domain);
    void warnOnce(Domain& domain, WarnKind kind, std::string_view path);
    void maybeFinishInitialScan();
    Domain* find(std::uint32_t domid, std::uint64_t epoch);

    /// Runs `fn` and logs instead of letting an exception out of a handler.
    template <class Fn>
    void guarded(const char* what, Fn&& fn) noexcept
    {
        try {
            fn();
        } catch (const std::exception& e) {
            if (log_)
                log_->error("DOMAIN_WATCHER_ERROR in={} err={}", what, e.what());
        } catch (...) {
            if (log_)
                log_->error("DOMAIN_WATCHER_ERROR in={} err=unknown", what);
        }
    }

    boost::asio::any_io_executor io_;
    xenstore::Connection& xs_;
    metrics::ObjectStore& store_;
    DomainWatcherOptions opts_;
    std::shared_ptr<spdlog::logger> log_;

    bool running_ = false;
    std::vector<xenstore::Watch> lifecycleWatches_;
    std::unordered_map<std::uint32_t, std::unique_ptr<Domain>> domains_;
    std::unordered_map<std::string, std::uint32_t> domidByUuid_;
    std::unordered_map<std::string, std::uint32_t> domidByVmRef_;
    std::set<std::uint32_t> discovering_;
    std::unordered_map<std::uint32_t, Prewatch> prewatched_;  ///< domids in discovering_
    std::set<std::uint32_t> rediscover_;
    std::set<std::uint32_t> invalid_;  ///< ignored (bad uuid), warned once
    /// Old domains of VMs that run in a newer domain now (a reboot whose new
    /// domain came before the old one's release): domid -> the VM's uuid.
    std::map<std::uint32_t, std::string> superseded_;
    std::uint64_t nextEpoch_ = 1;
    std::size_t watched_ = 0;
    std::size_t pendingJobs_ = 0;

    bool scanPending_ = false;
    unsigned scanFlags_ = 0;
    bool initialScanned_ = false;
    std::function<void()> onInitialScanDone_;
    DomainWatcherStats stats_;
};

void DomainWatcherImpl::start(std::function<void()> onInitialScanDone)
{
    if (running_)
        return;
    running_ = true;
    onInitialScanDone_ = std::move(onInitialScanDone);
    std::weak_ptr<DomainWatcherImpl> weak = weak_from_this();
    // Both fire once on registration, which is harmless: scans coalesce.
    lifecycleWatches_.push_back(xs_.watch("@introduceDomain", [weak](std::string_view) {
        if (auto self = weak.lock())
            self->guarded("introduce", [self = self.get()] { self->requestScan(kCheckNew); });
    }));
    lifecycleWatches_.push_back(xs_.watch("@releaseDomain", [weak](std::string_view) {
        if (auto self = weak.lock())
            self->guarded("release", [self = self.get()] { self->requestScan(kCheckKnown); });
    }));
    // After a xenstored restart the store may hold anything: rebuild all.
    xs_.onReconnected([weak] {
        if (auto self = weak.lock()) {
            self->guarded("reconnected", [self = self.get()] {
                if (!self->running_)
                    return;
                if (self->log_)
                    self->log_->info("DOMAIN_RESYNC domains={}", self->domains_.size());
                self->requestScan(kCheckNew | kCheckKnown | kFull);
            });
        }
    });
    requestScan(kCheckNew | kCheckKnown | kFull);
}

void DomainWatcherImpl::stop()
{
    if (!running_)
        return;
    running_ = false;
    lifecycleWatches_.clear();
    domains_.clear();
    domidByUuid_.clear();
    domidByVmRef_.clear();
    discovering_.clear();
    prewatched_.clear();
    rediscover_.clear();
    watched_ = 0;
    onInitialScanDone_ = nullptr;
}

std::optional<std::int64_t> DomainWatcherImpl::domidOf(const std::string& vmRef) const
{
    auto it = domidByVmRef_.find(vmRef);
    if (it == domidByVmRef_.end())
        return std::nullopt;
    return static_cast<std::int64_t>(it->second);
}

DomainWatcherImpl::Domain* DomainWatcherImpl::find(std::uint32_t domid, std::uint64_t epoch)
{
    auto it = domains_.find(domid);
    if (it == domains_.end() || it->second->epoch != epoch)
        return nullptr;
    return it->second.get();
}

// ---------------------------------------------------------------- scanning

void DomainWatcherImpl::requestScan(unsigned flags)
{
    if (!running_)
        return;
    scanFlags_ |= flags;
    // One scan at a time; what is asked meanwhile runs right after it.
    if (!scanPending_)
        runScan();
}

void DomainWatcherImpl::runScan()
{
    const unsigned flags = scanFlags_;
    scanFlags_ = 0;
    scanPending_ = true;
    ++pendingJobs_;
    std::set<std::uint32_t> known;
    for (const auto& entry : domains_)
        known.insert(entry.first);
    known.insert(discovering_.begin(), discovering_.end());
    auto result = std::make_shared<ScanResult>();
    auto toCheck = std::make_shared<std::vector<std::uint32_t>>();
    std::weak_ptr<DomainWatcherImpl> weak = weak_from_this();
    xs_.post(
        [result, toCheck, flags, known = std::move(known)](xenstore::Client& client) {
            // On the xenstore executor: only the captured copies are used.
            std::error_code ec;
            ++result->requests;
            auto names = client.directory("/local/domain", ec);
            if (ec) {
                result->lost = client.lost();
                result->error = ec.message();
                return;
            }
            for (const std::string& name : names.value_or(std::vector<std::string>{})) {
                auto domid = detail::parseDomid(name);
                if (!domid)
                    continue;
                const bool isKnown = known.count(*domid) != 0;
                if (*domid == 0 || (isKnown && (flags & (kCheckKnown | kFull)) == 0))
                    result->present.push_back(*domid);
                else if (isKnown || (flags & (kCheckNew | kFull)) != 0)
                    toCheck->push_back(*domid);  // is it introduced?
            }
            result->ok = true;
        },
        [weak, flags, result, toCheck] {
            if (auto self = weak.lock())
                self->guarded("scan", [self = self.get(), flags, result, toCheck] {
                    self->checkIntroduced(flags, result, std::move(*toCheck));
                });
        });
}

void DomainWatcherImpl::checkIntroduced(unsigned flags, std::shared_ptr<ScanResult> result,
                                        std::vector<std::uint32_t> domids)
{
    if (!result->ok || domids.empty() || !running_) {
        onScanned(flags, *result);
        return;
    }
    // One request per domid: at 10,000 domains 40 s one after the other, so
    // they go in chunks to the reader handles (four per reader, so that a
    // slow chunk does not hold one back), and the scan completes when the
    // last chunk does.
    const std::size_t chunks =
        std::min<std::size_t>(domids.size(), 4 * std::max<std::size_t>(1, xs_.readers()));
    auto parts = std::make_shared<std::vector<ScanResult>>(chunks);
    auto remaining = std::make_shared<std::size_t>(chunks);
    std::weak_ptr<DomainWatcherImpl> weak = weak_from_this();
    for (std::size_t c = 0; c < chunks; ++c) {
        std::vector<std::uint32_t> chunk;
        for (std::size_t i = c; i < domids.size(); i += chunks)
            chunk.push_back(domids[i]);
        xs_.postRead(
            [parts, c, chunk = std::move(chunk)](xenstore::Client& client) {
                ScanResult& part = (*parts)[c];
                for (std::uint32_t domid : chunk) {
                    std::error_code ec;
                    ++part.requests;
                    const bool introduced = client.isDomainIntroduced(domid, ec);
                    if (ec) {
                        part.lost = client.lost();
                        part.error = ec.message();
                        return;
                    }
                    if (introduced)
                        part.present.push_back(domid);
                }
                part.ok = true;
            },
            [weak, flags, result, parts, remaining] {
                if (--*remaining != 0)
                    return;
                for (ScanResult& part : *parts) {
                    result->requests += part.requests;
                    result->present.insert(result->present.end(), part.present.begin(),
                                           part.present.end());
                    if (!part.ok) {
                        result->ok = false;
                        result->lost = result->lost || part.lost;
                        result->error = part.error;
                    }
                }
                std::sort(result->present.begin(), result->present.end());
                if (auto self = weak.lock())
                    self->guarded("scan", [self = self.get(), flags, result] {
                        self->onScanned(flags, *result);
                    });
            });
    }
}

void DomainWatcherImpl::onScanned(unsigned flags, ScanResult& result)
{
    scanPending_ = false;
    if (pendingJobs_ > 0)
        --pendingJobs_;
    if (!running_)
        return;
    ++stats_.scans;
    if (!result.ok) {
        // A lost connection rescans fully once it is back (onReconnected);
        // any other failure keeps what was asked for the next trigger, so a
        // persistent error cannot make the scan spin.
        if (log_ && !result.lost)
            log_->warn("DOMAIN_SCAN_FAILED err={}", result.error);
        if (!result.lost)
            scanFlags_ |= flags;
    } else {
        const std::set<std::uint32_t> present(result.present.begin(), result.present.end());
        std::vector<std::uint32_t> gone;
        for (const auto& entry : domains_)
            if (entry.first != 0 && present.count(entry.first) == 0)
                gone.push_back(entry.first);
        for (std::uint32_t domid : gone)
            release(domid);
        // Only a scan that checked the unknown domids tells which are gone.
        if ((flags & (kCheckNew | kFull)) != 0) {
            for (auto it = invalid_.begin(); it != invalid_.end();)
                it = present.count(*it) == 0 ? invalid_.erase(it) : std::next(it);
            for (auto it = superseded_.begin(); it != superseded_.end();)
                it = present.count(it->first) == 0 ? superseded_.erase(it) : std::next(it);
        }
        for (std::uint32_t domid : present) {
            // One being discovered is not new: only a full scan reads it again.
            const bool known = domains_.count(domid) != 0 || discovering_.count(domid) != 0;
            const bool full = (flags & kFull) != 0;
            const bool ignored = invalid_.count(domid) != 0 || superseded_.count(domid) != 0;
            if ((!known && !ignored) || full)
                discover(domid);
        }
        if (!initialScanned_ && (flags & kFull) != 0)
            initialScanned_ = true;
    }
    maybeFinishInitialScan();
    if (scanFlags_ != 0 && !scanPending_ && running_ && result.ok)
        runScan();  // what was asked while this scan ran
}

void DomainWatcherImpl::maybeFinishInitialScan()
{
    if (initialScanned_ && discovering_.empty() && onInitialScanDone_) {
        auto callback = std::move(onInitialScanDone_);
        onInitialScanDone_ = nullptr;
        callback();
    }
}

void DomainWatcherImpl::discover(std::uint32_t domid)
{
    if (discovering_.count(domid) != 0) {
        rediscover_.insert(domid);
        return;
    }
    // One read job per known domain at a time: reads run side by side on
    // the reader handles, and an older read finishing last would undo a
    // newer one.  A refresh asked for meanwhile follows the job in flight.
    Domain* known = nullptr;
    if (auto it = domains_.find(domid); it != domains_.end()) {
        known = it->second.get();
        if (known->jobPending) {
            known->refreshWanted = true;
            return;
        }
        known->jobPending = true;
    }
    discovering_.insert(domid);
    ++pendingJobs_;
    auto result = std::make_shared<DiscoverResult>();
    const metrics::GuestLimits limits = opts_.limits;
    std::weak_ptr<DomainWatcherImpl> weak = weak_from_this();
    auto job = [result, domid, limits](xenstore::Client& client) {
        result->identity = readIdentity(client, domid, limits, result->tree);
        // The control domain has no guest agent to follow.
        if (!result->identity.present || domid == 0 || result->tree.lost)
            return;
        Reader reader(client, domid, limits, result->tree);
        reader.runAll(fullTreeOps());
    };
    auto done = [weak, domid, result] {
        if (auto self = weak.lock())
            self->guarded("discover", [self = self.get(), domid, result] {
                self->onDiscovered(domid, *result);
            });
    };
    if (known != nullptr || domid == 0) {
        xs_.postRead(std::move(job), std::move(done));
        return;
    }
    // A guest not known yet gets its watches now, and its read starts once
    // their registrations (queued on the ordered xenstore executor) are
    // done: an empty job queued after them says when.  The read then sees
    // everything up to the watches and the watches report everything
    // after, so their firings at registration need no re-read, which saves
    // a listing of every watched subtree per guest at start-up.
    Prewatch& pre = prewatched_[domid];
    pre.epoch = nextEpoch_++;
    pre.watches = makeWatches(domid, pre.epoch);
    pre.registrationSeen.assign(detail::watchedBases().size(), false);
    pre.changed = false;
    xs_.post([](xenstore::Client&) {},
             [weak, job = std::move(job), done = std::move(done)]() mutable {
                 if (auto self = weak.lock())
                     self->xs_.postRead(std::move(job), std::move(done));
             });
}

void DomainWatcherImpl::onDiscovered(std::uint32_t domid, DiscoverResult& result)
{
    discovering_.erase(domid);
    // A known domain's read job is over (see discover()).  If the
    // connection was lost, the reconnection's full rescan re-reads it.
    if (auto it = domains_.find(domid); it != domains_.end()) {
        it->second->jobPending = false;
        if (result.tree.lost)
            it->second->refreshWanted = false;
    }
    // Unless attach() takes them, the early watches go with this scope.
    std::optional<Prewatch> pre;
    if (auto it = prewatched_.find(domid); it != prewatched_.end()) {
        pre = std::move(it->second);
        prewatched_.erase(it);
    }
    if (pendingJobs_ > 0)
        --pendingJobs_;
    if (!running_)
        return;
    stats_.readRequests += result.tree.requests;
    if (result.tree.lost) {
        // The reconnection rescans everything; nothing read here is trusted.
        rediscover_.erase(domid);
        maybeFinishInitialScan();
        return;
    }
    const Identity& id = result.identity;
    auto known = domains_.find(domid);
    if (!id.present) {
        if (known != domains_.end() && domid != 0)
            release(domid);
    } else {
        std::optional<std::string> uuid = id.uuid;
        if (!uuid && domid == 0)
            uuid = kDom0Uuid;
        if (!uuid) {
            if (invalid_.insert(domid).second && log_)
                log_->warn("DOMAIN_IGNORED domid={} reason=invalid_uuid vm='{}'", domid, id.rawVm);
            if (known != domains_.end())
                release(domid);
        } else if (auto old = superseded_.find(domid);
                   old != superseded_.end() && old->second == *uuid) {
            // The old domain of a rebooted VM, still there: the VM runs in
            // its newer domain, which this one must not replace.
        } else if (known != domains_.end() && known->second->uuid == *uuid) {
            refresh(*known->second, result);
            afterJob(*known->second);
        } else {
            if (known != domains_.end())
                release(domid);  // the domid now belongs to another VM
            auto other = domidByUuid_.find(*uuid);
            if (other != domidByUuid_.end()) {
                // Rebooted before its release was seen.
                superseded_[other->second] = *uuid;
                release(other->second);
            }
            attach(domid, *uuid, result, std::move(pre));
        }
    }
    if (rediscover_.erase(domid) != 0)
        discover(domid);
    maybeFinishInitialScan();
}

void DomainWatcherImpl::attach(std::uint32_t domid, const std::string& uuid,
                               DiscoverResult& result, std::optional<Prewatch> pre)
{
    const Identity& id = result.identity;
    auto domain = std::make_unique<Domain>();
    domain->domid = domid;
    domain->epoch = pre ? pre->epoch : nextEpoch_++;
    domain->uuid = uuid;
    domain->control = domid == 0;

    metrics::VmRecord vm;
    std::optional<std::string> vmRef = store_.findByUuid(metrics::ObjectClass::Vm, uuid);
    if (vmRef) {
        if (const auto* existing = store_.getAs<metrics::VmRecord>(*vmRef))
            vm = *existing;
        else
            vmRef.reset();
    }
    vm.uuid = uuid;
    vm.nameLabel = !id.name.empty() ? id.name : (domain->control ? "Domain-0" : vm.nameLabel);
    vm.powerState = metrics::PowerState::Running;
    vm.domid = domid;
    vm.isControlDomain = domain->control;
    vm.hvmBootPolicy = id.hvm ? "BIOS order" : "";
    vm.residentOn = opts_.hostRef;

    if (!domain->control) {
        // As xapi's VM.start: a new domain gets a new guest-metrics object.
        if (vm.guestMetrics != metrics::kNullRef)
            store_.remove(vm.guestMetrics);
        applyBatch(*domain, result.tree);
        metrics::GuestMetricsRecord gm;
        gm.uuid = metrics::randomUuid();
        gm.live = true;
        const auto now = std::chrono::system_clock::now();
        metrics::applyGuestFields(gm, metrics::deriveGuestFields(domain->tree, opts_.limits), now);
        gm.lastUpdated = now;
        domain->gmRef = store_.add(metrics::Record{std::move(gm)});
        vm.guestMetrics = domain->gmRef;
    }
    if (vmRef)
        store_.update(*vmRef, metrics::Record{vm});
    else
        vmRef = store_.add(metrics::Record{vm});
    domain->vmRef = *vmRef;

    if (log_)
        log_->info("DOMAIN_DISCOVERED domid={} uuid={} name='{}' vm={} gm={}", domid, uuid,
                   vm.nameLabel, domain->vmRef, domain->gmRef);

    bool changedMeanwhile = false;
    if (!domain->control) {
        if (pre) {
            // Armed before the read (discover()).
            domain->watches = std::move(pre->watches);
            domain->registrationSeen = std::move(pre->registrationSeen);
            domain->watchedBeforeRead = true;
            changedMeanwhile = pre->changed;
        } else {
            // Armed only now (a domid that changed hands): each firing at
            // registration re-lists its subtree, covering changes between
            // the read and the watch.
            domain->watches = makeWatches(domid, domain->epoch);
            domain->registrationSeen.assign(detail::watchedBases().size(), false);
        }
        ++watched_;
    }
    domidByUuid_[uuid] = domid;
    domidByVmRef_[domain->vmRef] = domid;
    Domain& attached = *domain;
    domains_[domid] = std::move(domain);
    if (changedMeanwhile) {
        // The guest wrote while its tree was being read: which of its writes
        // the read saw is unknown, so read every watched subtree again.
        for (const detail::WatchedBase& watched : detail::watchedBases())
            markDirty(attached, ReadOp{std::string(watched.rel), watched.depth});
        attached.extrasDirty = true;
        pump(attached);
    }
}

std::vector<xenstore::Watch> DomainWatcherImpl::makeWatches(std::uint32_t domid,
                                                            std::uint64_t epoch)
{
    const std::string base = detail::domainPath(domid);
    const auto& bases = detail::watchedBases();
    std::vector<xenstore::Watch> watches;
    watches.reserve(bases.size());
    for (std::size_t i = 0; i < bases.size(); ++i) {
        // Two words, so that std::function keeps the handler in place: six
        // watches a guest would otherwise allocate six times per guest.
        const WatchKey key = WatchKey::of(domid, epoch, i);
        watches.push_back(xs_.watch(base + "/" + std::string(bases[i].rel),
                                    [self = this, key](std::string_view path) {
                                        // Watches die with their Domain or Prewatch,
                                        // which die before this.
                                        self->guarded("event", [self, key, path] {
                                            self->onGuestEvent(key.domid(), key.epoch(), path,
                                                               key.index());
                                        });
                                    }));
    }
    return watches;
}

void DomainWatcherImpl::refresh(Domain& domain, DiscoverResult& result)
{
    // Same domain seen again (full rescan): bring the VM record up to date.
    const Identity& id = result.identity;
    if (const auto* existing = store_.getAs<metrics::VmRecord>(domain.vmRef)) {
        metrics::VmRecord vm = *existing;
        if (!id.name.empty())
            vm.nameLabel = id.name;
        vm.powerState = metrics::PowerState::Running;
        vm.domid = domain.domid;
        vm.hvmBootPolicy = id.hvm ? "BIOS order" : "";
        vm.residentOn = opts_.hostRef;
        vm.guestMetrics = domain.control ? vm.guestMetrics : domain.gmRef;
        store_.update(domain.vmRef, metrics::Record{std::move(vm)});
    }
    if (domain.control)
        return;
    // The full read replaces the cached tree; only differences get published.
    domain.tree.clear();
    applyBatch(domain, result.tree);
    publish(domain);
}

void DomainWatcherImpl::release(std::uint32_t domid)
{
    auto it = domains_.find(domid);
    if (it == domains_.end())
        return;
    Domain& domain = *it->second;
    if (const auto* existing = store_.getAs<metrics::VmRecord>(domain.vmRef)) {
        metrics::VmRecord vm = *existing;
        vm.powerState = metrics::PowerState::Halted;
        vm.domid = -1;
        vm.residentOn = metrics::kNullRef;
        store_.update(domain.vmRef, metrics::Record{std::move(vm)});
    }
    if (log_)
        log_->info("DOMAIN_RELEASED domid={} uuid={}", domid, domain.uuid);
    if (!domain.control && watched_ > 0)
        --watched_;
    auto byUuid = domidByUuid_.find(domain.uuid);
    if (byUuid != domidByUuid_.end() && byUuid->second == domid)
        domidByUuid_.erase(byUuid);
    domidByVmRef_.erase(domain.vmRef);
    domains_.erase(it);  // drops its watches (and ignores its job in flight)
}

// ------------------------------------------------------------ guest events

void DomainWatcherImpl::onGuestEvent(std::uint32_t domid, std::uint64_t epoch,
                                     std::string_view path, std::size_t watchIndex)
{
    ++stats_.watchEvents;
    if (!running_)
        return;
    Domain* domain = find(domid, epoch);
    if (domain == nullptr) {
        // Still being discovered, with the watches armed before the read:
        // only a real change (not the firing at registration, always a
        // watch's first event) needs a re-read once the domain is attached.
        auto pre = prewatched_.find(domid);
        if (pre != prewatched_.end() && pre->second.epoch == epoch) {
            if (!firstFiring(pre->second.registrationSeen, watchIndex))
                pre->second.changed = true;
        }
        return;
    }
    // A watch's first event is its firing at registration (xenstored queues
    // it before the XS_WATCH reply).  It re-lists the watch's own subtree,
    // covering changes between discover()'s read and the watch, but does not
    // re-read the unwatched extras: discover() has just read them, and at
    // start-up the four firings per guest would otherwise repeat ~10
    // requests per guest (xenstored's cost per request grows with domains).
    const bool registration = firstFiring(domain->registrationSeen, watchIndex);
    if (registration && domain->watchedBeforeRead)
        return;  // the first read began after this watch was armed
    // Strict: the path must lie in this domain's own tree and in a watched
    // subtree; anything else is ignored, never followed.
    std::optional<DomainPath> parsed = detail::parseDomainPath(path);
    std::optional<ReadOp> op;
    if (parsed && parsed->domid == domid)
        op = detail::readForEvent(parsed->rel);
    if (!op) {
        ++stats_.ignoredEvents;
        if (!parsed || parsed->domid != domid)
            warnOnce(*domain, WarnKind::Path, path);
        return;
    }
    // In a directory at its cap, which children stay is for a listing to
    // say; a node that would sort after all of them needs no read at all.
    // (Checked once per job and node: a node already due is not again.)
    if (!dirtyCovers(*domain, op->rel)) {
        const CapCheck cap = capAt(domain->tree, op->rel, opts_.limits.maxKeysPerTree, true);
        if (cap.kind == CapCheck::Relist)
            op = detail::readForEvent(cap.dir);
        if (op && cap.kind != CapCheck::Beyond)
            markDirty(*domain, *op);
    }
    if (!registration)
        domain->extrasDirty = true;
    pump(*domain);
}

bool DomainWatcherImpl::dirtyCovers(const Domain& domain, const std::string& rel) const
{
    for (const auto& [dirtyRel, depth] : domain.dirty)
        if (rel == dirtyRel || (depth > 0 && rel.rfind(dirtyRel + "/", 0) == 0))
            return true;
    return false;
}

void DomainWatcherImpl::markDirty(Domain& domain, const ReadOp& op)
{
    // Coalesce: a listing of a base covers every read below it.
    auto base = domain.dirty.end();
    for (auto it = domain.dirty.begin(); it != domain.dirty.end(); ++it) {
        if (it->second > 0 && (op.rel == it->first || op.rel.rfind(it->first + "/", 0) == 0)) {
            base = it;
            break;
        }
    }
    if (base == domain.dirty.end()) {
        int& depth = domain.dirty[op.rel];
        depth = std::max(depth, op.depth);
        if (op.depth > 0) {
            for (auto it = domain.dirty.begin(); it != domain.dirty.end();) {
                const bool below = it->first.rfind(op.rel + "/", 0) == 0;
                it = below ? domain.dirty.erase(it) : std::next(it);
            }
        }
    }
    // Many distinct dirty nodes (a guest writing hundreds of keys): list the
    // watched bases instead, which bounds both memory and the job's size.
    if (domain.dirty.size() > opts_.limits.maxKeysPerTree) {
        domain.dirty.clear();
        for (const detail::WatchedBase& watched : detail::watchedBases())
            domain.dirty.emplace(std::string(watched.rel), watched.depth);
    }
}

void DomainWatcherImpl::pump(Domain& domain)
{
    if (domain.jobPending || !running_)
        return;
    // Dirty nodes first, the unwatched extras in the job after: an event's
    // own change reaches the record after one short job.  But a guest whose
    // events never stop would never see that job: once the extras have been
    // passed over, they ride along with the next dirty nodes, so they are
    // read at least every other job.
    std::vector<ReadOp> ops;
    for (auto& entry : domain.dirty)
        ops.push_back(ReadOp{entry.first, entry.second});
    domain.dirty.clear();
    bool extras = false;
    if (domain.extrasDirty && (ops.empty() || domain.extrasPassedOver)) {
        const auto& extraOps = detail::extraReads();
        ops.insert(ops.end(), extraOps.begin(), extraOps.end());
        domain.extrasDirty = false;
        extras = true;
    }
    if (ops.empty())
        return;
    ops = detail::withoutCovered(std::move(ops));
    domain.extrasPassedOver = domain.extrasDirty;
    domain.jobPending = true;
    ++pendingJobs_;
    auto batch = std::make_shared<ReadBatch>();
    const std::uint32_t domid = domain.domid;
    const std::uint64_t epoch = domain.epoch;
    const metrics::GuestLimits limits = opts_.limits;
    std::weak_ptr<DomainWatcherImpl> weak = weak_from_this();
    xs_.postRead(
        [batch, domid, limits, ops = std::move(ops)](xenstore::Client& client) {
            Reader reader(client, domid, limits, *batch);
            reader.runAll(ops);
        },
        [weak, batch, domid, epoch, extras] {
            if (auto self = weak.lock())
                self->guarded("read", [self = self.get(), batch, domid, epoch, extras] {
                    self->onReadDone(domid, epoch, *batch, extras);
                });
        });
}

void DomainWatcherImpl::onReadDone(std::uint32_t domid, std::uint64_t epoch, ReadBatch& batch,
                                   bool extras)
{
    ++stats_.readJobs;
    stats_.readRequests += batch.requests;
    Domain* domain = find(domid, epoch);
    if (domain == nullptr || !running_) {
        if (pendingJobs_ > 0)
            --pendingJobs_;
        return;  // released meanwhile: nothing to update
    }
    domain->jobPending = false;
    if (batch.lost) {
        if (pendingJobs_ > 0)
            --pendingJobs_;
        // Keep what was asked; the resync after reconnection (and the watch
        // firings it brings) reads it again.
        for (const OpResult& result : batch.results)
            domain->dirty.emplace(result.op.rel, result.op.depth);
        domain->extrasDirty = domain->extrasDirty || extras;
        domain->refreshWanted = false;  // the reconnection's rescan does it
        return;
    }
    applyBatch(*domain, batch);
    publish(*domain);
    // The store's update has posted its waiters (event.from, the console
    // tracker).  The follow-up job (the unwatched extras, or what changed
    // meanwhile) is queued behind them, so that their answers are written
    // before a reader thread and xenstored compete for the CPU with them.
    // It counts as pending until it has run, so that idle means idle.
    boost::asio::post(io_, [weak = weak_from_this(), domid, epoch] {
        if (auto self = weak.lock())
            self->guarded("follow-up", [self = self.get(), domid, epoch] {
                if (self->pendingJobs_ > 0)
                    --self->pendingJobs_;
                Domain* known = self->find(domid, epoch);
                // A job started meanwhile (an event) does this when it ends.
                if (known != nullptr && self->running_ && !known->jobPending)
                    self->afterJob(*known);
            });
    });
}

void DomainWatcherImpl::afterJob(Domain& domain)
{
    if (domain.refreshWanted) {
        domain.refreshWanted = false;
        discover(domain.domid);
        return;
    }
    pump(domain);
}

void DomainWatcherImpl::applyBatch(Domain& domain, ReadBatch& batch)
{
    for (OpResult& result : batch.results)
        applyResult(domain, result);
}

void DomainWatcherImpl::applyResult(Domain& domain, OpResult& result)
{
    if (!result.sanitizedPath.empty())
        warnOnce(domain, WarnKind::Value, result.sanitizedPath);
    if (!result.cappedDir.empty())
        warnOnce(domain, WarnKind::Children, result.cappedDir);
    if (result.budgetExhausted)
        warnOnce(domain, WarnKind::TotalKeys, result.op.rel);
    metrics::GuestTree& tree = domain.tree;
    const std::string& rel = result.op.rel;
    const std::string prefix = rel + "/";
    // A node read alone (or a listing below a watched base) is kept only
    // where a full listing would keep it.  The event's check saw the tree
    // as it was then: if it changed since (a race with another new child,
    // or the directory filled up), a listing decides again.
    if (!result.nodes.empty()) {
        const CapCheck cap = capAt(tree, rel, opts_.limits.maxKeysPerTree, false);
        if (cap.kind != CapCheck::Fits) {
            warnOnce(domain, WarnKind::Children, cap.dir);
            if (cap.kind == CapCheck::Relist)
                if (auto relist = detail::readForEvent(cap.dir))
                    markDirty(domain, *relist);
            return;  // the node is not kept (nor was anything below it)
        }
    } else if (auto below = tree.lower_bound(prefix);
               tree.count(rel) != 0 || (below != tree.end() && below->first.rfind(prefix, 0) == 0)) {
        // A kept node is gone: in a full directory, the next child in
        // order comes in.
        const CapCheck cap = capAt(tree, rel, opts_.limits.maxKeysPerTree, true);
        if (cap.kind == CapCheck::Relist)
            if (auto relist = detail::readForEvent(cap.dir))
                markDirty(domain, *relist);
    }
    // The result replaces the whole subtree: the node and what lies below.
    tree.erase(rel);
    auto first = tree.lower_bound(prefix);
    auto last = first;
    while (last != tree.end() && last->first.compare(0, prefix.size(), prefix) == 0)
        ++last;
    tree.erase(first, last);
    mergeNodes(domain, result.nodes);
}

void DomainWatcherImpl::mergeNodes(Domain& domain, std::vector<std::pair<std::string, std::string>>& nodes)
{
    if (nodes.empty())
        return;
    // The tree is sorted and packed: inserting node by node would move its
    // tail once per node.  Sorted (stably: a path read twice keeps its last
    // value) and merged, a result costs one pass.
    std::stable_sort(nodes.begin(), nodes.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    metrics::GuestTree& tree = domain.tree;
    const std::size_t room = tree.size() < opts_.limits.maxTotalKeys ? opts_.limits.maxTotalKeys - tree.size() : 0;
    if (nodes.size() > room) {
        warnOnce(domain, WarnKind::TotalKeys, nodes[room].first);
        nodes.resize(room);
    }
    tree.mergeSorted(nodes);
}

void DomainWatcherImpl::publish(Domain& domain)
{
    // The record itself is what the fields are compared with: keeping a copy
    // of them per guest to skip this would cost ~1.5 KiB a guest.
    const auto* current = store_.getAs<metrics::GuestMetricsRecord>(domain.gmRef);
    if (current == nullptr)
        return;
    metrics::GuestMetricsRecord next = *current;
    // applyGuestFields moves last_updated only when a field changed.
    if (metrics::applyGuestFields(next, metrics::deriveGuestFields(domain.tree, opts_.limits),
                                  std::chrono::system_clock::now())) {
        store_.update(domain.gmRef, metrics::Record{std::move(next)});
        ++stats_.recordUpdates;
    }
}

void DomainWatcherImpl::warnOnce(Domain& domain, WarnKind kind, std::string_view path)
{
    const auto bit = static_cast<std::size_t>(kind);
    if (domain.warned.test(bit))
        return;
    domain.warned.set(bit);
    if (!log_)
        return;
    // The path may come from the guest: log a sanitized, short form.
    const std::string shown = metrics::sanitizeGuestValue(path, 256);
    if (kind == WarnKind::Value)
        log_->warn("GUEST_VALUE_SANITIZED domid={} path={}", domain.domid, shown);
    else if (kind == WarnKind::Path)
        log_->warn("GUEST_EVENT_IGNORED domid={} path={}", domain.domid, shown);
    else
        log_->warn("GUEST_LIMIT_EXCEEDED domid={} kind={} path={}", domain.domid,
                   warnKindName(kind), shown);
}

// ------------------------------------------------------------- public API

DomainWatcher::DomainWatcher(boost::asio::any_io_executor io, xenstore::Connection& xs,
                             metrics::ObjectStore& store, DomainWatcherOptions opts)
    : impl_(std::make_shared<DomainWatcherImpl>(std::move(io), xs, store, std::move(opts)))
{
}

DomainWatcher::~DomainWatcher()
{
    stop();
}

void DomainWatcher::start(std::function<void()> onInitialScanDone)
{
    impl_->start(std::move(onInitialScanDone));
}

void DomainWatcher::stop()
{
    impl_->stop();
}

std::size_t DomainWatcher::watchedDomains() const noexcept
{
    return impl_->watchedDomains();
}

std::optional<std::int64_t> DomainWatcher::domidOf(const std::string& vmRef) const
{
    return impl_->domidOf(vmRef);
}

std::size_t DomainWatcher::pendingJobs() const noexcept
{
    return impl_->pendingJobs();
}

DomainWatcherStats DomainWatcher::stats() const noexcept
{
    return impl_->stats();
}

}  // namespace xenrdp::daemon
