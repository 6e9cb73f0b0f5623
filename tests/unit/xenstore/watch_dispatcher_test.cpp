#include <xenstore/watch_dispatcher.hpp>

#include <cerrno>
#include <stdexcept>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <fcntl.h>

#include "../../support/fake_xs_api.hpp"
#include "run_until.hpp"

using namespace xenrdp::xenstore;
using xenrdp::test::FakeXsStore;
using xenrdp::test::runUntil;

namespace {

struct Fixture {
    boost::asio::io_context io;
    std::shared_ptr<FakeXsStore> store = std::make_shared<FakeXsStore>();
    std::unique_ptr<xenrdp::test::FakeXsApi> api = store->open();
    std::vector<std::error_code> losses;
    WatchDispatcher dispatcher{io.get_executor(),
                               [this](std::error_code ec) { losses.push_back(ec); }};
};

}  // namespace

TEST_CASE_METHOD(Fixture, "WatchDispatcher drains all pending events in one wake-up",
                 "[xenstore][unit]")
{
    std::vector<std::string> seen;
    dispatcher.add("a", [&seen](std::string_view p) { seen.emplace_back(p); });
    api->pushEvent("/one", "a");
    api->pushEvent("/two", "a");
    api->pushEvent("/three", "a");
    dispatcher.attach(*api);
    REQUIRE(runUntil(io, [&seen] { return seen.size() == 3; }));
    CHECK(seen == std::vector<std::string>{"/one", "/two", "/three"});
    CHECK(api->queuedEvents() == 0);
    CHECK(api->pipeBytes() == 0);  // the one-byte invariant still holds
}

TEST_CASE_METHOD(Fixture, "WatchDispatcher calls the handler registered for each token",
                 "[xenstore][unit]")
{
    int a = 0;
    int b = 0;
    dispatcher.add("a", [&a](std::string_view) { ++a; });
    dispatcher.add("b", [&b](std::string_view) { ++b; });
    dispatcher.attach(*api);
    api->pushEvent("/x", "b");
    api->pushEvent("/y", "a");
    api->pushEvent("/z", "b");
    REQUIRE(runUntil(io, [&] { return a + b == 3; }));
    CHECK(a == 1);
    CHECK(b == 2);
}

TEST_CASE_METHOD(Fixture, "WatchDispatcher ignores events with an unknown token",
                 "[xenstore][unit]")
{
    int known = 0;
    dispatcher.add("known", [&known](std::string_view) { ++known; });
    dispatcher.attach(*api);
    api->pushEvent("/x", "stranger");
    api->pushEvent("/y", "known");
    REQUIRE(runUntil(io, [&known] { return known == 1; }));
    CHECK(dispatcher.dispatched() == 1);
    CHECK(api->queuedEvents() == 0);
}

TEST_CASE_METHOD(Fixture, "WatchDispatcher asks the resolver for tokens it was not given",
                 "[xenstore][unit]")
{
    std::vector<std::string> viaAdd;
    std::vector<std::string> viaResolver;
    const WatchHandler owned = [&viaResolver](std::string_view p) { viaResolver.emplace_back(p); };
    std::vector<std::string> asked;
    dispatcher.add("added", [&viaAdd](std::string_view p) { viaAdd.emplace_back(p); });
    dispatcher.setResolver([&](std::string_view token) -> const WatchHandler* {
        asked.emplace_back(token);
        return token == "owned" ? &owned : nullptr;
    });
    dispatcher.attach(*api);
    api->pushEvent("/a", "added");
    api->pushEvent("/b", "owned");
    api->pushEvent("/c", "nobody");
    api->pushEvent("/d", "owned");
    REQUIRE(runUntil(io, [&] { return api->queuedEvents() == 0 && viaResolver.size() == 2; }));
    CHECK(viaAdd == std::vector<std::string>{"/a"});
    CHECK(viaResolver == std::vector<std::string>{"/b", "/d"});
    // add()'s own tokens never reach the resolver; unknown ones are dropped.
    CHECK(asked == std::vector<std::string>{"owned", "nobody", "owned"});
    CHECK(dispatcher.dispatched() == 3);
}

TEST_CASE_METHOD(Fixture, "WatchDispatcher drops queued events of a removed token",
                 "[xenstore][unit]")
{
    int calls = 0;
    dispatcher.add("t", [&calls](std::string_view) { ++calls; });
    dispatcher.attach(*api);
    api->pushEvent("/x", "t");
    CHECK(dispatcher.remove("t"));
    REQUIRE(runUntil(io, [this] { return api->queuedEvents() == 0; }));
    CHECK(calls == 0);
}

TEST_CASE_METHOD(Fixture, "WatchDispatcher keeps dispatching after a handler throws",
                 "[xenstore][unit]")
{
    int later = 0;
    dispatcher.add("bad", [](std::string_view) { throw std::runtime_error("boom"); });
    dispatcher.add("good", [&later](std::string_view) { ++later; });
    dispatcher.attach(*api);
    api->pushEvent("/x", "bad");
    api->pushEvent("/y", "good");
    REQUIRE(runUntil(io, [&later] { return later == 1; }));
    CHECK(losses.empty());
}

TEST_CASE_METHOD(Fixture, "WatchDispatcher reports a lost handle when xs_check_watch fails",
                 "[xenstore][unit]")
{
    dispatcher.add("t", [](std::string_view) {});
    dispatcher.attach(*api);
    store->kill();
    api->pushEvent("/x", "t");  // wakes the fd; checkWatch then says EINVAL
    REQUIRE(runUntil(io, [this] { return !losses.empty(); }));
    CHECK(losses.front().value() == EINVAL);
    CHECK_FALSE(dispatcher.attached());
}

TEST_CASE_METHOD(Fixture, "WatchDispatcher detach leaves libxenstore's fd open",
                 "[xenstore][unit]")
{
    dispatcher.attach(*api);
    REQUIRE(dispatcher.attached());
    dispatcher.detach();
    CHECK_FALSE(dispatcher.attached());
    CHECK(::fcntl(api->fileno(), F_GETFD) != -1);
}

TEST_CASE_METHOD(Fixture, "WatchDispatcher makes no xs_check_watch call after detach",
                 "[xenstore][unit]")
{
    int calls = 0;
    dispatcher.add("t", [&calls](std::string_view) { ++calls; });
    dispatcher.attach(*api);
    api->pushEvent("/x", "t");
    dispatcher.detach();
    // Run everything that is ready, twice: the cancelled wait completes, and
    // a wait still armed on the readable pipe would complete too.
    const int before = api->checkWatchCalls();
    for (int i = 0; i < 2; ++i) {
        io.restart();
        io.poll();
    }
    CHECK(api->checkWatchCalls() == before);
    CHECK(calls == 0);
    CHECK(api->queuedEvents() == 1);
}
