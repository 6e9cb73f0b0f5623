// xenrdp_watch_bench: how long a guest's write to data/ts takes to reach its
// VM_guest_metrics record through the DomainWatcher, next to the raw
// xenstored write -> watch round trip measured in the same run.
//
//   xenrdp_watch_bench [--domains 1,100,1000] [--samples 200]
//
// For each domain count: a fresh sandbox xenstored with that many guests.
//  - raw: a second libxenstore handle watches every guest's data/ts; time
//    from before xs_write until xs_read_watch returns that path.
//  - read: one xs_read round trip, which the engine adds to `raw` (a watch
//    event carries no value).
//  - engine: Connection + ObjectStore + DomainWatcher on an io_context in
//    this thread; time from before xs_write until a store waiter sees
//    other["data-ts"] hold the written value.  Between samples the engine is
//    left to go idle, so each sample is one write on a quiet system.
// The raw samples are taken while the engine is connected with its watches
// registered (so xenstored does the same watch matching) but not running.
extern "C" {
#include <xenstore.h>
}

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/require.hpp>

#include <daemon/domain_watcher.hpp>
#include <metrics/object_store.hpp>
#include <sandbox.hpp>
#include <xenstore/connection.hpp>

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
using namespace xenrdp;

struct Options {
    std::vector<std::uint32_t> domains{1, 100, 1000};
    std::size_t samples = 200;
};

struct Stats {
    double p50 = 0;
    double p99 = 0;
};

Stats percentiles(std::vector<double> v)
{
    Stats s;
    if (v.empty())
        return s;
    std::sort(v.begin(), v.end());
    s.p50 = v[v.size() / 2];
    s.p99 = v[std::min(v.size() - 1, (v.size() * 99) / 100)];
    return s;
}

double micros(Clock::duration d)
{
    return std::chrono::duration<double, std::micro>(d).count();
}

std::string tsPath(std::uint32_t domid)
{
    return "/local/domain/" + std::to_string(domid) + "/data/ts";
}

/// A plain libxenstore handle on the sandbox's socket.
xs_handle* openHandle(const sandbox::XenstoredSandbox& sb)
{
    // The sandbox's constructor pointed $XENSTORED_PATH at it (see sandbox.hpp).
    xs_handle* h = xs_open(0);
    if (h == nullptr)
        throw std::runtime_error("xs_open " + sb.socketPath() + " failed");
    return h;
}

void mustWrite(xs_handle* h, const std::string& path, const std::string& value)
{
    if (!xs_write(h, XBT_NULL, path.c_str(), value.data(), static_cast<unsigned>(value.size())))
        throw std::runtime_error("xs_write " + path + " failed");
}

/// Reads watch events until one for `path` arrives (blocking; bench only).
void awaitWatch(xs_handle* h, const std::string& path)
{
    for (;;) {
        unsigned n = 0;
        char** ev = xs_read_watch(h, &n);
        if (ev == nullptr)
            throw std::runtime_error("xs_read_watch failed");
        const bool match = path == ev[XS_WATCH_PATH];
        std::free(ev);
        if (match)
            return;
    }
}

struct Row {
    std::uint32_t domains = 0;
    Stats raw;
    Stats read;  ///< one plain xs_read round trip: the engine's floor above `raw`
    Stats engine;
    double layoutSeconds = 0;
    double scanSeconds = 0;
};

class Bench {
public:
    Bench(std::uint32_t domains, std::size_t samples) : domains_(domains), samples_(samples) {}

    Row run()
    {
        Row row;
        row.domains = domains_;
        sandbox::XenstoredSandbox sb;
        const auto t0 = Clock::now();
        std::vector<sandbox::DomainSpec> specs;
        for (std::uint32_t d = 1; d <= domains_; ++d) {
            sandbox::DomainSpec spec;
            spec.domid = d;
            spec.name = "bench-" + std::to_string(d);
            specs.push_back(spec);
        }
        sb.addDomains(specs);
        row.layoutSeconds = std::chrono::duration<double>(Clock::now() - t0).count();

        boost::asio::io_context io;
        auto work = boost::asio::require(io.get_executor(),
                                         boost::asio::execution::outstanding_work.tracked);
        metrics::ObjectStore store;
        xenstore::ConnectionOptions copts;
        copts.socketPath = sb.socketPath();
        copts.readers = daemon::kXenstoreReaders;  // as the daemon runs it
        xenstore::Connection conn(io.get_executor(), copts);
        daemon::DomainWatcher watcher(io.get_executor(), conn, store, {});
        bool scanned = false;
        const auto t1 = Clock::now();
        conn.start();
        watcher.start([flag = &scanned] { *flag = true; });
        runUntil(io, [flag = &scanned] { return *flag; }, 600s);
        // One firing at registration per watched subtree (six per guest:
        // control, data/ts, attr, feature/hotplug, data/service, xenserver/attr).
        const std::uint64_t firings = 6ULL * domains_;
        runUntil(io, [w = &watcher, firings] { return w->stats().watchEvents >= firings; }, 600s);
        runUntil(io, [w = &watcher] { return w->pendingJobs() == 0; }, 600s);
        row.scanSeconds = std::chrono::duration<double>(Clock::now() - t1).count();

        // domid -> guest-metrics ref, for the store waiter.
        std::map<std::uint32_t, std::string> gmOf;
        for (const auto& [ref, record] : store.all(metrics::ObjectClass::Vm)) {
            const auto& vm = std::get<metrics::VmRecord>(*record);
            if (vm.domid > 0)
                gmOf[static_cast<std::uint32_t>(vm.domid)] = vm.guestMetrics;
        }
        if (gmOf.size() != domains_)
            throw std::runtime_error("not every domain was discovered");

        xs_handle* writer = openHandle(sb);
        row.raw = measureRaw(sb, writer);
        row.read = measureRead(writer);
        // Let the engine catch up with the raw run's events before timing it.
        runUntil(io, [w = &watcher] { return w->pendingJobs() == 0; }, 60s);
        row.engine = measureEngine(io, store, watcher, writer, gmOf);
        xs_close(writer);
        watcher.stop();
        conn.stop();
        return row;
    }

private:
    static void runUntil(boost::asio::io_context& io, const std::function<bool()>& done,
                         Clock::duration deadline)
    {
        const auto end = Clock::now() + deadline;
        while (!done()) {
            if (Clock::now() >= end)
                throw std::runtime_error("bench: timed out");
            io.run_one_for(5ms);
        }
    }

    std::uint32_t pick() { return std::uniform_int_distribution<std::uint32_t>(1, domains_)(rng_); }

    std::string nextValue(std::uint32_t domid) { return std::to_string(++counter_[domid]); }

    Stats measureRaw(const sandbox::XenstoredSandbox& sb, xs_handle* writer)
    {
        xs_handle* watcher = openHandle(sb);
        for (std::uint32_t d = 1; d <= domains_; ++d) {
            const std::string path = tsPath(d);
            if (!xs_watch(watcher, path.c_str(), "bench"))
                throw std::runtime_error("xs_watch failed");
            awaitWatch(watcher, path);  // the firing at registration
        }
        std::vector<double> samples;
        for (std::size_t i = 0; i < samples_; ++i) {
            const std::uint32_t d = pick();
            const std::string path = tsPath(d);
            const std::string value = nextValue(d);
            const auto start = Clock::now();
            mustWrite(writer, path, value);
            awaitWatch(watcher, path);
            samples.push_back(micros(Clock::now() - start));
        }
        xs_close(watcher);
        return percentiles(samples);
    }

    Stats measureRead(xs_handle* reader)
    {
        std::vector<double> samples;
        for (std::size_t i = 0; i < samples_; ++i) {
            const std::string path = tsPath(pick());
            unsigned len = 0;
            const auto start = Clock::now();
            void* value = xs_read(reader, XBT_NULL, path.c_str(), &len);
            samples.push_back(micros(Clock::now() - start));
            std::free(value);
        }
        return percentiles(samples);
    }

    Stats measureEngine(boost::asio::io_context& io, metrics::ObjectStore& store,
                        daemon::DomainWatcher& watcher, xs_handle* writer,
                        const std::map<std::uint32_t, std::string>& gmOf)
    {
        std::vector<double> samples;
        for (std::size_t i = 0; i < samples_; ++i) {
            const std::uint32_t d = pick();
            const std::string value = nextValue(d);
            const std::string& gmRef = gmOf.at(d);
            std::optional<Clock::time_point> seen;
            // The waiter fires synchronously on every store change; it takes
            // the timestamp the moment the record holds the new value.
            std::function<void()> check;
            check = [store = &store, gmRef, value, seen = &seen, self = &check] {
                const auto* gm = store->getAs<metrics::GuestMetricsRecord>(gmRef);
                bool match = false;
                if (gm != nullptr) {
                    auto it = gm->other.find("data-ts");
                    match = it != gm->other.end() && it->second == value;
                }
                if (match)
                    *seen = Clock::now();
                else
                    store->waitForChange(*self);
            };
            store.waitForChange(check);
            const auto start = Clock::now();
            mustWrite(writer, tsPath(d), value);
            runUntil(io, [seen = &seen] { return seen->has_value(); }, 10s);
            samples.push_back(micros(*seen - start));
            runUntil(io, [w = &watcher] { return w->pendingJobs() == 0; }, 10s);
        }
        return percentiles(samples);
    }

    std::uint32_t domains_;
    std::size_t samples_;
    std::mt19937 rng_{12345};
    std::map<std::uint32_t, std::uint64_t> counter_;
};

std::vector<std::uint32_t> parseList(const std::string& text)
{
    std::vector<std::uint32_t> out;
    std::stringstream ss(text);
    std::string item;
    while (std::getline(ss, item, ','))
        out.push_back(static_cast<std::uint32_t>(std::stoul(item)));
    return out;
}

}  // namespace

int main(int argc, char** argv)
{
    Options opt;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--domains" && i + 1 < argc)
            opt.domains = parseList(argv[++i]);
        else if (a == "--samples" && i + 1 < argc)
            opt.samples = std::stoul(argv[++i]);
        else {
            std::fprintf(stderr, "usage: %s [--domains 1,100,1000] [--samples N]\n", argv[0]);
            return 2;
        }
    }
    try {
        std::vector<Row> rows;
        for (std::uint32_t n : opt.domains) {
            std::fprintf(stderr, "laying out %u domains...\n", n);
            rows.push_back(Bench(n, opt.samples).run());
        }
        std::printf("guest write -> record changed (microseconds, %zu samples each)\n",
                    opt.samples);
        std::printf("%8s | %10s %10s | %10s %10s | %9s | %8s | %9s %8s\n", "domains",
                    "raw p50", "raw p99", "engine p50", "engine p99", "p50 ratio", "read p50",
                    "layout s", "scan s");
        for (const Row& r : rows) {
            std::printf("%8u | %10.0f %10.0f | %10.0f %10.0f | %9.2f | %8.0f | %9.1f %8.1f\n",
                        r.domains, r.raw.p50, r.raw.p99, r.engine.p50, r.engine.p99,
                        r.raw.p50 > 0 ? r.engine.p50 / r.raw.p50 : 0.0, r.read.p50,
                        r.layoutSeconds, r.scanSeconds);
        }
        std::printf("raw = plain libxenstore write -> xs_read_watch; read = one xs_read round "
                    "trip\n(the engine needs the event and then one read: raw + read is its floor)\n");
    } catch (const std::exception& e) {
        std::fprintf(stderr, "xenrdp_watch_bench: %s\n", e.what());
        return 1;
    }
    return 0;
}
