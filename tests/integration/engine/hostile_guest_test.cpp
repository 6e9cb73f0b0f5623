// Hostile guests: every case checks the record AND that another guest's
// update still arrives promptly.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <functional>
#include <thread>

#include "engine_fixture.hpp"

using namespace xenrdp;
using namespace xenrdp::test;

namespace {

struct TwoGuests {
    sandbox::XenstoredSandbox sb;
    std::string hostile;
    std::string victim;
    TwoGuests()
    {
        sandbox::DomainSpec a;
        a.domid = 5;
        a.name = "hostile";
        hostile = sb.addDomain(a);
        sandbox::DomainSpec b;
        b.domid = 6;
        b.name = "victim";
        victim = sb.addDomain(b);
    }
};

/// The victim writes data/ts and its record must follow within kPrompt.
bool victimStillServed(Engine& engine, TwoGuests& guests, const std::string& value)
{
    guests.sb.write(dom(6, "data/ts"), value);
    return engine.runUntil(
        [&engine, uuid = guests.victim, value] {
            return engine.other(uuid, "data-ts") == std::optional<std::string>(value);
        },
        kPrompt);
}

constexpr int kFloodWriters = 4;

/// Writer threads rewriting guest 5's data/ts ("1", "0", ...) as fast as
/// xenstored takes it, each on its own connection, until stop().  With
/// `spread` > 0, every other write goes to one of `spread` control/ keys
/// per writer instead, so that the guest's read jobs grow long.
class Flood {
public:
    Flood(const std::string& dir, int writers, int spread = 0)
        : started_(std::chrono::steady_clock::now())
    {
        for (int w = 0; w < writers; ++w) {
            threads_.emplace_back([dir, w, spread, stop = &stop_, count = &writes_,
                                   failed = &failed_] {
                try {
                    auto sb = sandbox::XenstoredSandbox::attach(dir);
                    for (int n = w; !stop->load(); ++n) {
                        if (spread > 0 && n % 2 == 1)
                            sb.write(dom(5, "control/flood-" + std::to_string(w) + "-" +
                                                std::to_string((n / 2) % spread)),
                                     std::to_string(n));
                        else
                            sb.write(dom(5, "data/ts"), n % 4 == 0 ? "1" : "0");
                        count->fetch_add(1);
                    }
                } catch (const std::exception&) {
                    failed->store(true);  // a refused write ends this writer
                }
            });
        }
    }
    Flood(const Flood&) = delete;
    Flood& operator=(const Flood&) = delete;
    ~Flood() { stop(); }

    std::chrono::steady_clock::duration elapsed() const
    {
        return std::chrono::steady_clock::now() - started_;
    }
    /// Stops and joins the writers; returns the writes per second achieved.
    double stop()
    {
        stop_ = true;
        for (std::thread& t : threads_)
            if (t.joinable())
                t.join();
        if (!stopped_) {
            stopped_ = true;
            seconds_ = std::chrono::duration<double>(elapsed()).count();
        }
        return seconds_ > 0 ? static_cast<double>(writes_.load()) / seconds_ : 0.0;
    }
    bool done() const { return stopped_; }
    bool failed() const { return failed_.load(); }
    std::uint64_t writes() const { return writes_.load(); }

private:
    std::chrono::steady_clock::time_point started_;
    std::atomic<bool> stop_{false};
    std::atomic<bool> failed_{false};
    std::atomic<std::uint64_t> writes_{0};
    std::vector<std::thread> threads_;
    bool stopped_ = false;
    double seconds_ = 0;
};

}  // namespace

TEST_CASE("Invalid UTF-8 and control characters in a guest value are sanitized once-logged",
          "[engine][integration][hostile]")
{
    TwoGuests guests;
    Engine engine(guests.sb);
    engine.start();
    guests.sb.write(dom(5, "control/evil"), std::string("a\x01" "b\xff" "c\x7f", 6));
    guests.sb.write(dom(5, "control/evil2"), std::string("\x02\xfe", 2));
    REQUIRE(engine.runUntil([&engine, uuid = guests.hostile] {
        return engine.other(uuid, "evil2").has_value() && engine.other(uuid, "evil").has_value();
    }));
    CHECK(*engine.other(guests.hostile, "evil") == "ab\xEF\xBF\xBD" "c");
    CHECK(*engine.other(guests.hostile, "evil2") == "\xEF\xBF\xBD");
    CHECK(engine.logCount("GUEST_VALUE_SANITIZED domid=5") == 1);
    CHECK(victimStillServed(engine, guests, "1"));
}

TEST_CASE("A 64 KiB value is refused by xenstored and the largest allowed one is kept whole",
          "[engine][integration][hostile]")
{
    TwoGuests guests;
    Engine engine(guests.sb);
    engine.start();
    const std::string path = dom(5, "control/big");
    CHECK_THROWS(guests.sb.write(path, std::string(64 * 1024, 'x')));
    // XENSTORE_PAYLOAD_MAX (4096) holds the path, a NUL and the value.
    const std::string largest(4096 - path.size() - 1, 'y');
    guests.sb.write(path, largest);
    REQUIRE(engine.runUntil([&engine, uuid = guests.hostile] {
        return engine.other(uuid, "big").has_value();
    }));
    CHECK(*engine.other(guests.hostile, "big") == largest);
    CHECK(victimStillServed(engine, guests, "1"));
}

TEST_CASE("A value longer than the configured cap is cut to the cap",
          "[engine][integration][hostile]")
{
    TwoGuests guests;
    daemon::DomainWatcherOptions opts;
    opts.limits.maxValueBytes = 1024;
    Engine engine(guests.sb, opts);
    engine.start();
    guests.sb.write(dom(5, "control/big"), std::string(3000, 'z'));
    REQUIRE(engine.runUntil([&engine, uuid = guests.hostile] {
        return engine.other(uuid, "big").has_value();
    }));
    CHECK(*engine.other(guests.hostile, "big") == std::string(1024, 'z'));
    CHECK(engine.logCount("GUEST_VALUE_SANITIZED domid=5") == 1);
    CHECK(victimStillServed(engine, guests, "1"));
}

TEST_CASE("Hundreds of control children are capped with one warning",
          "[engine][integration][hostile]")
{
    TwoGuests guests;
    Engine engine(guests.sb);
    engine.start();
    for (int i = 0; i < 500; ++i) {
        char name[32];
        std::snprintf(name, sizeof name, "control/k%03d", i);
        guests.sb.write(dom(5, name), "v");
    }
    const daemon::DomainWatcherOptions defaults;
    REQUIRE(engine.runUntil([&engine, uuid = guests.hostile, cap = defaults.limits.maxKeysPerTree] {
        const auto* gm = engine.gm(uuid);
        return gm != nullptr && gm->other.size() == cap;
    }));
    REQUIRE(engine.settle());
    CHECK(engine.gm(guests.hostile)->other.size() == defaults.limits.maxKeysPerTree);
    CHECK(engine.logCount("GUEST_LIMIT_EXCEEDED domid=5 kind=children") == 1);
    CHECK(victimStillServed(engine, guests, "1"));
}

TEST_CASE("The control/ children kept over the cap are the sorted first, whatever the timing",
          "[engine][integration][hostile]")
{
    TwoGuests guests;
    sandbox::XenstoredSandbox& sb = guests.sb;
    daemon::DomainWatcherOptions opts;
    opts.limits.maxKeysPerTree = 16;
    Engine engine(sb, opts);
    engine.start();
    const std::string control = dom(5, "control");

    // What a full listing keeps: the first 16 names in sorted order.
    auto expected = [&sb, control, cap = opts.limits.maxKeysPerTree] {
        std::vector<std::string> names = sb.directory(control);
        std::sort(names.begin(), names.end());
        names.resize(std::min(names.size(), cap));
        return names;
    };
    auto kept = [&engine, uuid = guests.hostile] {
        std::vector<std::string> names;
        if (const auto* gm = engine.gm(uuid))
            for (const auto& entry : gm->other)
                names.emplace_back(entry.first);
        return names;
    };
    // Applies one guest write and waits until the record matches a listing.
    auto step = [&engine, &expected, &kept](const std::function<void()>& write) {
        const std::uint64_t events = engine.watcher->stats().watchEvents;
        write();
        REQUIRE(engine.runUntil([&engine, events] {
            return engine.watcher->stats().watchEvents > events && engine.watcher->pendingJobs() == 0;
        }));
        REQUIRE(engine.runUntil([&expected, &kept] { return kept() == expected(); }));
    };

    // 30 children arriving one by one, last name first: each one's own
    // event must not decide what stays.
    for (int i = 29; i >= 0; --i) {
        char name[32];
        std::snprintf(name, sizeof name, "k%02d", i);
        step([&sb, control, name] { sb.write(control + "/" + name, "v"); });
    }
    CHECK(kept().size() == 16);
    CHECK(kept().front() == "has-vendor-device");
    CHECK(kept().back() == "k14");
    // A kept child goes: the next one in order comes in.
    step([&sb, control] { sb.remove(control + "/k03"); });
    CHECK(kept().back() == "k15");
    step([&sb, control] { sb.remove(control + "/has-vendor-device"); });
    CHECK(kept().back() == "k16");
    // A new child sorting first pushes the last one out; one sorting last
    // changes nothing.
    step([&sb, control] { sb.write(control + "/a-first", "1"); });
    CHECK(kept().front() == "a-first");
    CHECK(kept().back() == "k15");
    step([&sb, control] { sb.write(control + "/zz", "1"); });
    // A kept child's value still follows.
    step([&sb, control] { sb.write(control + "/k00", "changed"); });
    CHECK(engine.other(guests.hostile, "k00") == std::optional<std::string>("changed"));
    CHECK(engine.logCount("GUEST_LIMIT_EXCEEDED domid=5 kind=children") == 1);
    REQUIRE(engine.settle());

    // A resync reads everything again with full listings: it must find
    // exactly what the events built, so nothing is published.
    std::vector<std::pair<std::string, std::string>> saved;
    for (const std::string& name : sb.directory(control))
        saved.emplace_back(name, *sb.read(control + "/" + name));
    const std::string gmRef = engine.vm(guests.hostile)->guestMetrics;
    const std::uint64_t reconnects = engine.conn->reconnectCount();
    sb.kill();
    sb.restart();
    // Laid out again before the engine runs (and so reconnects) again.
    sandbox::DomainSpec hostile;
    hostile.domid = 5;
    hostile.name = "hostile";
    hostile.uuid = guests.hostile;
    sb.addDomain(hostile);
    sandbox::DomainSpec victim;
    victim.domid = 6;
    victim.name = "victim";
    victim.uuid = guests.victim;
    sb.addDomain(victim);
    for (const std::string& name : sb.directory(control))
        sb.remove(control + "/" + name);
    for (const auto& [name, value] : saved)
        sb.write(control + "/" + name, value);
    const std::uint64_t before = engine.store.generation();
    REQUIRE(engine.runUntil(
        [&engine, reconnects] { return engine.conn->reconnectCount() > reconnects; }));
    REQUIRE(engine.runUntil([&engine] { return engine.logCount("DOMAIN_RESYNC") >= 1; }));
    REQUIRE(engine.settle());
    CHECK(engine.vm(guests.hostile)->guestMetrics == gmRef);
    CHECK(kept() == expected());
    for (const auto& change : engine.store.changesSince(before, metrics::ClassFilter::all()).changes)
        CHECK(change.ref != gmRef);
    CHECK(victimStillServed(engine, guests, "1"));
}

TEST_CASE("Keys beyond the per-domain total are dropped with one warning",
          "[engine][integration][hostile]")
{
    TwoGuests guests;
    daemon::DomainWatcherOptions opts;
    opts.limits.maxTotalKeys = 40;
    Engine engine(guests.sb, opts);
    engine.start();
    // 60 addresses on 20 interfaces: no directory is over its cap, the
    // domain as a whole is.
    for (int vif = 0; vif < 20; ++vif)
        for (int i = 0; i < 3; ++i)
            guests.sb.write(dom(5, "attr/vif/" + std::to_string(vif) + "/ipv4/" + std::to_string(i)),
                            "10.0." + std::to_string(vif) + "." + std::to_string(i));
    REQUIRE(engine.runUntil([&engine] {
        return engine.logCount("GUEST_LIMIT_EXCEEDED domid=5 kind=total_keys") >= 1;
    }));
    REQUIRE(engine.settle());
    const auto* gm = engine.gm(guests.hostile);
    REQUIRE(gm != nullptr);
    // Every kept address gives "<n>/ipv4/<i>"; the first of each vif also "<n>/ip".
    std::size_t addresses = 0;
    for (const auto& entry : gm->networks)
        addresses += entry.first.find("/ipv4/") != std::string::npos ? 1U : 0U;
    CHECK(addresses > 0);
    CHECK(addresses < 60);
    CHECK(engine.logCount("GUEST_LIMIT_EXCEEDED domid=5 kind=total_keys") == 1);
    CHECK(victimStillServed(engine, guests, "1"));
}

TEST_CASE("Hundreds of services and driver entries are capped with one warning",
          "[engine][integration][hostile]")
{
    TwoGuests guests;
    Engine engine(guests.sb);
    engine.start();
    const daemon::DomainWatcherOptions defaults;
    const std::size_t cap = defaults.limits.maxKeysPerTree;
    for (int i = 0; i < 300; ++i) {
        char name[64];
        std::snprintf(name, sizeof name, "drivers/%d", i);
        guests.sb.write(dom(5, name), "Vendor DRV" + std::to_string(1000 + i) + " 1.0 x");
        std::snprintf(name, sizeof name, "data/service/s%03d/state", i);
        guests.sb.write(dom(5, name), "running");
    }
    // data/service is watched; drivers/ comes with the extras of its events.
    REQUIRE(engine.runUntil([&engine, uuid = guests.hostile, cap] {
        const auto* gm = engine.gm(uuid);
        return gm != nullptr && gm->services.size() == cap && gm->pvDriversVersion.size() == cap;
    }));
    REQUIRE(engine.settle());
    const auto* gm = engine.gm(guests.hostile);
    // The alphabetically first services: data/service/s000 .. s255.
    CHECK(gm->services.begin()->first == "s000/state");
    CHECK(gm->services.toStringMap().rbegin()->first == "s" + std::to_string(cap - 1) + "/state");
    CHECK(gm->pvDriversVersion.size() == cap);
    CHECK(engine.logCount("GUEST_LIMIT_EXCEEDED domid=5 kind=children") == 1);
    CHECK(victimStillServed(engine, guests, "1"));
}

TEST_CASE("A guest flooding data/ts does not starve another guest",
          "[engine][integration][hostile]")
{
    TwoGuests guests;
    Engine engine(guests.sb);
    engine.start();
    Flood flood(guests.sb.dir(), kFloodWriters);

    // Once the flood is under way, each of the victim's writes must still
    // get through promptly.
    REQUIRE(engine.runUntil([&engine] { return engine.watcher->stats().watchEvents > 500; }));
    for (const char* value : {"1", "0", "1"}) {
        const auto t0 = std::chrono::steady_clock::now();
        REQUIRE(victimStillServed(engine, guests, value));
        CHECK(std::chrono::steady_clock::now() - t0 < kPrompt);
    }

    // Keep serving events for the rest of the flood's second.
    engine.runUntil([&flood] { return flood.elapsed() >= 1s; });
    const double rate = flood.stop();
    WARN("flood: " << kFloodWriters << " writers, " << flood.writes() << " writes of data/ts at "
                   << static_cast<long>(rate) << " writes/s");
    REQUIRE_FALSE(flood.failed());
    REQUIRE(flood.writes() > 1000);
    // The flood collapses: the record ends on the last value written.
    const std::optional<std::string> last = guests.sb.read(dom(5, "data/ts"));
    REQUIRE(last.has_value());
    REQUIRE(engine.runUntil([&engine, uuid = guests.hostile, last] {
        return engine.other(uuid, "data-ts") == last;
    }));
    REQUIRE(engine.settle());
    CHECK(engine.other(guests.hostile, "data-ts") == last);
    // Coalescing: far fewer read jobs than events.
    CHECK(engine.watcher->stats().readJobs < engine.watcher->stats().watchEvents);
}

TEST_CASE("A guest flooding data/ts and control/ still gets its own data/os_name changes",
          "[engine][integration][hostile]")
{
    TwoGuests guests;
    Engine engine(guests.sb);
    engine.start();
    Flood flood(guests.sb.dir(), kFloodWriters, 40);
    REQUIRE(engine.runUntil([&engine] { return engine.watcher->stats().watchEvents > 500; }));

    // data/os_name is not watched: it is re-read with the extras after
    // watched events, which here never stop coming, and the guest's read
    // jobs (dozens of control/ keys each) end with new events always queued.
    guests.sb.write(dom(5, "data/os_name"), "Microsoft Windows Server 2022");
    const auto t0 = std::chrono::steady_clock::now();
    REQUIRE(engine.runUntil(
        [&engine, uuid = guests.hostile] {
            const auto* gm = engine.gm(uuid);
            return gm != nullptr && gm->osVersion.count("name") != 0 &&
                   gm->osVersion.at("name") == "Microsoft Windows Server 2022";
        },
        kPrompt));
    CHECK(std::chrono::steady_clock::now() - t0 < kPrompt);
    CHECK_FALSE(flood.done());
    flood.stop();
    REQUIRE_FALSE(flood.failed());
}

TEST_CASE("An event path outside the watched subtrees is never read",
          "[engine][integration][hostile]")
{
    TwoGuests guests;
    Engine engine(guests.sb);
    engine.start();
    REQUIRE(engine.settle());
    const std::uint64_t requests = engine.watcher->stats().readRequests;
    // Not watched: no event, no read.
    guests.sb.write(dom(5, "data/meminfo_free"), "123");
    guests.sb.write(dom(5, "attr/os/hotfixes/0"), "KB1");
    REQUIRE(engine.runUntil([&engine] { return engine.watcher->stats().ignoredEvents > 0; }));
    REQUIRE(engine.settle());
    CHECK(engine.watcher->stats().readRequests == requests);
    CHECK(victimStillServed(engine, guests, "1"));
}
