// Connection driven by FakeXsApi handles: the threading and reconnect logic
// without xenstored (the integration tests repeat the important cases
// against the real one).
#include <xenstore/client.hpp>
#include <xenstore/connection.hpp>

#include <atomic>
#include <mutex>
#include <set>
#include <functional>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "../../support/fake_xs_api.hpp"
#include "run_until.hpp"

using namespace xenrdp::xenstore;
using xenrdp::test::FakeXsStore;
using xenrdp::test::runUntil;

namespace {

struct Fixture {
    boost::asio::io_context io;
    std::shared_ptr<FakeXsStore> store = std::make_shared<FakeXsStore>();
    std::ostringstream logText;
    std::shared_ptr<spdlog::logger> logger = std::make_shared<spdlog::logger>(
        "xenstore-test", std::make_shared<spdlog::sinks::ostream_sink_mt>(logText));
    std::unique_ptr<Connection> conn;

    /// `readers`: ConnectionOptions::readers.  With readers the liveness
    /// probe is off, so that only the jobs under test see injected failures.
    explicit Fixture(std::size_t readers = 0)
    {
        ConnectionOptions opts;
        opts.readers = readers;
        opts.livenessInterval = readers == 0 ? std::chrono::milliseconds(20) : std::chrono::hours(1);
        opts.backoffInitial = std::chrono::milliseconds(5);
        opts.backoffMax = std::chrono::milliseconds(40);
        opts.logger = logger;
        opts.openApi = [s = store](bool) -> std::unique_ptr<XsApi> { return s->open(); };
        conn = std::make_unique<Connection>(io.get_executor(), std::move(opts));
    }

    void startAndWait()
    {
        bool up = false;
        conn->start([&up] { up = true; });
        REQUIRE(runUntil(io, [&up] { return up; }));
    }

    /// Writes through the connection and waits for the write to be done.
    void write(const std::string& path, const std::string& value)
    {
        bool done = false;
        conn->post([path, value](Client& c) { c.write(path, value); }, [&done] { done = true; });
        REQUIRE(runUntil(io, [&done] { return done; }));
    }
};

struct ReaderFixture : Fixture {
    ReaderFixture() : Fixture(3) {}

    /// Runs `job` through postRead and waits for its `done`.
    void read(std::function<void(Client&)> job)
    {
        bool done = false;
        conn->postRead(std::move(job), [&done] { done = true; });
        REQUIRE(runUntil(io, [&done] { return done; }));
    }
};

/// Waits (bounded) on a thread other than the io thread.
template <class Pred>
bool spinUntil(Pred pred)
{
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!pred()) {
        if (std::chrono::steady_clock::now() >= deadline)
            return false;
        std::this_thread::yield();
    }
    return true;
}

}  // namespace

TEST_CASE_METHOD(Fixture, "Connection runs a job on the xenstore thread and done on the io thread",
                 "[xenstore][unit]")
{
    startAndWait();
    const auto ioThread = std::this_thread::get_id();
    std::thread::id jobThread;
    std::thread::id doneThread;
    bool done = false;
    conn->post([&jobThread](Client&) { jobThread = std::this_thread::get_id(); },
               [&] {
                   doneThread = std::this_thread::get_id();
                   done = true;
               });
    REQUIRE(runUntil(io, [&done] { return done; }));
    CHECK(jobThread != ioThread);
    CHECK(doneThread == ioThread);
}

TEST_CASE_METHOD(Fixture, "Connection delivers a write to the watch handler", "[xenstore][unit]")
{
    startAndWait();
    std::vector<std::string> paths;
    Watch w = conn->watch("/local/domain/5/control",
                          [&paths](std::string_view p) { paths.emplace_back(p); });
    REQUIRE(runUntil(io, [&paths] { return paths.size() == 1; }));  // the initial firing
    write("/local/domain/5/control/ts", "1");
    REQUIRE(runUntil(io, [&paths] { return paths.size() == 2; }));
    CHECK(paths.back() == "/local/domain/5/control/ts");
}

TEST_CASE_METHOD(Fixture, "Connection stops calling a handler once its Watch is destroyed",
                 "[xenstore][unit]")
{
    startAndWait();
    int calls = 0;
    auto w = std::make_unique<Watch>(conn->watch("/a", [&calls](std::string_view) { ++calls; }));
    REQUIRE(runUntil(io, [&calls] { return calls == 1; }));
    w.reset();
    REQUIRE(runUntil(io, [this] { return store->watchCount() == 0; }));  // xs_unwatch issued
    int other = 0;
    Watch sentinel = conn->watch("/a", [&other](std::string_view) { ++other; });
    REQUIRE(runUntil(io, [&other] { return other == 1; }));
    write("/a/b", "x");
    REQUIRE(runUntil(io, [&other] { return other == 2; }));
    CHECK(calls == 1);
}

TEST_CASE_METHOD(Fixture, "Connection runs jobs posted before it connects, in order",
                 "[xenstore][unit]")
{
    std::vector<int> order;
    for (int i = 0; i < 5; ++i)
        conn->post([](Client&) {}, [&order, i] { order.push_back(i); });
    conn->start();
    REQUIRE(runUntil(io, [&order] { return order.size() == 5; }));
    CHECK(order == std::vector<int>{0, 1, 2, 3, 4});
}

TEST_CASE_METHOD(Fixture, "Connection reconnects after xenstored dies and re-arms its watches",
                 "[xenstore][unit]")
{
    startAndWait();
    std::vector<std::string> paths;
    Watch w = conn->watch("/local/domain/7/data", [&paths](std::string_view p) {
        paths.emplace_back(p);
    });
    REQUIRE(runUntil(io, [&paths] { return paths.size() == 1; }));
    int reconnected = 0;
    conn->onReconnected([&reconnected] { ++reconnected; });

    store->kill();
    REQUIRE(runUntil(io, [this] { return !conn->connected(); }));
    store->restart();
    REQUIRE(runUntil(io, [&reconnected] { return reconnected == 1; }));
    CHECK(conn->reconnectCount() == 1);
    CHECK(store->watchCount() == 1);
    REQUIRE(runUntil(io, [&paths] { return paths.size() == 2; }));  // re-registration firing

    write("/local/domain/7/data/ts", "1");
    REQUIRE(runUntil(io, [&paths] { return paths.size() == 3; }));
    CHECK(paths.back() == "/local/domain/7/data/ts");
    logger->flush();
    CHECK(logText.str().find("XS_CONNECTION_LOST") != std::string::npos);
    CHECK(logText.str().find("XS_RECONNECTED attempt=") != std::string::npos);
}

TEST_CASE_METHOD(Fixture, "Connection reports a lost handle seen by a job and reconnects",
                 "[xenstore][unit]")
{
    startAndWait();
    int reconnected = 0;
    conn->onReconnected([&reconnected] { ++reconnected; });
    store->failNextRequest(ECONNRESET);  // the job's request sees a reset
    std::error_code seen;
    conn->post([&seen](Client& c) { c.read("/", seen); });
    REQUIRE(runUntil(io, [&reconnected] { return reconnected == 1; }));
    CHECK(seen.value() == ECONNRESET);
}

TEST_CASE_METHOD(Fixture, "Connection calls nothing after stop", "[xenstore][unit]")
{
    startAndWait();
    int calls = 0;
    Watch w = conn->watch("/a", [&calls](std::string_view) { ++calls; });
    bool done = false;
    conn->post([](Client&) {}, [&done] { done = true; });
    conn->stop();
    io.restart();
    io.poll();
    CHECK(calls == 0);
    CHECK_FALSE(done);
    CHECK_FALSE(conn->connected());
}

TEST_CASE_METHOD(ReaderFixture, "postRead runs jobs side by side on the reader handles",
                 "[xenstore][unit]")
{
    startAndWait();
    write("/x", "1");
    const auto ioThread = std::this_thread::get_id();
    std::atomic<int> running{0};
    std::mutex mutex;
    std::set<std::thread::id> threads;
    int together = 0;
    int done = 0;
    for (int i = 0; i < 3; ++i) {
        conn->postRead(
            [&](Client& c) {
                // Each job waits until all three run at once: only readers
                // working side by side get there.
                ++running;
                const bool met = spinUntil([&running] { return running.load() == 3; });
                const auto value = c.read("/x");
                std::lock_guard lock(mutex);
                threads.insert(std::this_thread::get_id());
                together += met && value == std::optional<std::string>("1") ? 1 : 0;
            },
            [&done, ioThread] { done += std::this_thread::get_id() == ioThread ? 1 : 100; });
    }
    REQUIRE(runUntil(io, [&done] { return done >= 3; }));
    CHECK(done == 3);
    CHECK(together == 3);
    CHECK(threads.size() == 3);
    CHECK(threads.count(ioThread) == 0);
}

TEST_CASE_METHOD(Fixture, "postRead without readers runs on the ordered xenstore thread",
                 "[xenstore][unit]")
{
    startAndWait();
    std::thread::id postThread;
    std::thread::id readThread;
    int done = 0;
    conn->post([&postThread](Client&) { postThread = std::this_thread::get_id(); }, [&done] { ++done; });
    conn->postRead([&readThread](Client&) { readThread = std::this_thread::get_id(); },
                   [&done] { ++done; });
    REQUIRE(runUntil(io, [&done] { return done == 2; }));
    CHECK(readThread == postThread);
}

TEST_CASE_METHOD(ReaderFixture, "A reader whose handle is lost starts the reconnection",
                 "[xenstore][unit]")
{
    startAndWait();
    read([](Client& c) { c.read("/"); });  // the reader's handle is open
    int reconnected = 0;
    conn->onReconnected([&reconnected] { ++reconnected; });
    store->failNextRequest(ECONNRESET);
    std::error_code seen;
    read([&seen](Client& c) { c.read("/", seen); });
    CHECK(seen.value() == ECONNRESET);
    REQUIRE(runUntil(io, [&reconnected] { return reconnected == 1; }));
    logger->flush();
    CHECK(logText.str().find("XS_CONNECTION_LOST via=reader") != std::string::npos);
}

TEST_CASE_METHOD(ReaderFixture, "Readers open new handles after a reconnection",
                 "[xenstore][unit]")
{
    startAndWait();
    write("/x", "before");
    for (int i = 0; i < 3; ++i)
        read([](Client& c) { c.read("/"); });
    int reconnected = 0;
    conn->onReconnected([&reconnected] { ++reconnected; });
    store->kill();
    conn->post([](Client& c) { c.read("/"); });  // a job notices the loss
    REQUIRE(runUntil(io, [this] { return !conn->connected(); }));
    const int opensBefore = store->opens();
    store->restart();
    REQUIRE(runUntil(io, [&reconnected] { return reconnected == 1; }));
    std::optional<std::string> value;
    std::error_code ec;
    read([&value, &ec](Client& c) { value = c.read("/x", ec); });
    CHECK_FALSE(ec);
    CHECK(value == std::optional<std::string>("before"));
    CHECK(store->opens() > opensBefore + 2);  // the two main handles and a reader's
}

TEST_CASE_METHOD(ReaderFixture, "A reader job that cannot open its handle runs on the ordered thread",
                 "[xenstore][unit]")
{
    // Opening works for the two main handles only: every reader open fails.
    startAndWait();
    std::thread::id postThread;
    bool posted = false;
    conn->post([&postThread](Client&) { postThread = std::this_thread::get_id(); },
               [&posted] { posted = true; });
    REQUIRE(runUntil(io, [&posted] { return posted; }));
    store->refuseOpens(true);
    std::thread::id readThread;
    std::optional<std::string> root;
    read([&readThread, &root](Client& c) {
        readThread = std::this_thread::get_id();
        root = c.read("/");
    });
    CHECK(readThread == postThread);
    CHECK(root.has_value());
}

TEST_CASE_METHOD(ReaderFixture, "stop waits for a reader job in flight and calls no done after it",
                 "[xenstore][unit]")
{
    startAndWait();
    std::atomic<bool> started{false};
    std::atomic<bool> stopping{false};
    std::atomic<bool> finished{false};
    bool done = false;
    conn->postRead(
        [&](Client&) {
            started = true;
            spinUntil([&stopping] { return stopping.load(); });
            finished = true;
        },
        [&done] { done = true; });
    REQUIRE(spinUntil([&started] { return started.load(); }));
    stopping = true;
    conn->stop();
    CHECK(finished.load());  // joined
    io.restart();
    io.poll();
    CHECK_FALSE(done);
}
