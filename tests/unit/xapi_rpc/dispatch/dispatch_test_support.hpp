#pragma once
// Shared fixture of the dispatch unit tests: an ObjectStore filled by hand,
// a fake Authenticator and GuestControl, and helpers that drive the
// io_context until a condition holds (no fixed sleeps).
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <metrics/object_store.hpp>
#include <metrics/records.hpp>
#include <xapi_rpc/auth/authenticator.hpp>
#include <xapi_rpc/auth/login_throttle.hpp>
#include <xapi_rpc/dispatch/dispatcher.hpp>
#include <xapi_rpc/dispatch/guest_control.hpp>

namespace xenrdp::xapi_rpc::dispatch::test {

/// Runs `io` until `done()` holds or `deadline` passes; true if it held.
inline bool runUntil(boost::asio::io_context& io, const std::function<bool()>& done,
                     std::chrono::milliseconds deadline = std::chrono::seconds(5))
{
    const auto end = std::chrono::steady_clock::now() + deadline;
    while (!done()) {
        if (std::chrono::steady_clock::now() >= end) return false;
        if (io.stopped()) io.restart();
        io.run_one_for(std::chrono::milliseconds(20));
    }
    return true;
}

/// Accounts: user -> (password, role). Answers are posted, never inline.
class FakeAuthenticator final : public auth::Authenticator {
public:
    explicit FakeAuthenticator(boost::asio::io_context& io) : io_(io) {}
    void authenticate(std::string user, std::string password, auth::AuthDone done) override
    {
        ++attempts;
        auth::AuthResult r;
        auto it = accounts.find(user);
        if (it != accounts.end() && it->second.first == password) {
            r.ok = true;
            r.role = it->second.second;
        } else {
            r.message = "Authentication failure";
        }
        boost::asio::post(io_, [done = std::move(done), r]() { done(r); });
    }
    std::map<std::string, std::pair<std::string, auth::Role>> accounts;
    int attempts = 0;

private:
    boost::asio::io_context& io_;
};

/// Records every request; answers (posted) with `result`.
class FakeGuestControl final : public GuestControl {
public:
    explicit FakeGuestControl(boost::asio::io_context& io) : io_(io) {}
    void requestRdp(std::int64_t domid, bool enable, std::function<void(std::error_code)> done) override
    {
        writes.emplace_back(domid, enable ? "1" : "0");
        boost::asio::post(io_, [done = std::move(done), ec = result]() { done(ec); });
    }
    std::vector<std::pair<std::int64_t, std::string>> writes;  ///< (domid, value written to control/ts)
    std::error_code result;

private:
    boost::asio::io_context& io_;
};

/// A store with a pool, its master host, dom0, a Windows VM with guest
/// metrics (feature-ts2 on), a running VM without feature-ts2 and a halted VM.
struct Fixture {
    explicit Fixture(DispatcherConfig config = testConfig(),
                     std::chrono::milliseconds failureDelay = std::chrono::milliseconds(50))
        : authenticator(io), throttle(io.get_executor(), failureDelay), guest(io)
    {
        authenticator.accounts["admin"] = {"secret", auth::Role::PoolAdmin};
        authenticator.accounts["reader"] = {"readpw", auth::Role::ReadOnly};
        authenticator.accounts["operator"] = {"oppw", auth::Role::VmOperator};

        metrics::HostRecord host;
        host.uuid = metrics::randomUuid();
        host.nameLabel = "dom0-host";
        host.hostname = "xenhost";
        host.address = "192.0.2.1";
        hostRef = store.add(host);

        metrics::PoolRecord pool;
        pool.uuid = metrics::randomUuid();
        pool.nameLabel = "pool";
        pool.master = hostRef;
        poolRef = store.add(pool);

        metrics::VmRecord dom0;
        dom0.uuid = metrics::randomUuid();
        dom0.nameLabel = "Control domain";
        dom0.powerState = metrics::PowerState::Running;
        dom0.domid = 0;
        dom0.isControlDomain = true;
        dom0.residentOn = hostRef;
        dom0Ref = store.add(dom0);

        metrics::GuestMetricsRecord gm;
        gm.uuid = metrics::randomUuid();
        gm.other = {{"feature-ts", "1"}, {"feature-ts2", "1"}, {"data-ts", "0"}};
        gm.networks = {{"0/ip", "192.0.2.10"}};
        gm.osVersion = {{"name", "Microsoft Windows 10 Pro"}};
        gmRef = store.add(gm);

        metrics::VmRecord win;
        win.uuid = metrics::randomUuid();
        win.nameLabel = "win10";
        win.powerState = metrics::PowerState::Running;
        win.domid = 5;
        win.hvmBootPolicy = "BIOS order";
        win.guestMetrics = gmRef;
        win.residentOn = hostRef;
        winRef = store.add(win);

        metrics::GuestMetricsRecord gmNoTs;
        gmNoTs.uuid = metrics::randomUuid();
        gmNoTs.other = {{"feature-ts", "1"}, {"feature-ts2", "0"}};
        gmNoTsRef = store.add(gmNoTs);

        metrics::VmRecord noTs;
        noTs.uuid = metrics::randomUuid();
        noTs.nameLabel = "linux";
        noTs.powerState = metrics::PowerState::Running;
        noTs.domid = 7;
        noTs.guestMetrics = gmNoTsRef;
        noTs.residentOn = hostRef;
        linuxRef = store.add(noTs);

        metrics::VmRecord halted;
        halted.uuid = metrics::randomUuid();
        halted.nameLabel = "halted";
        haltedRef = store.add(halted);

        dispatcher = std::make_unique<Dispatcher>(io.get_executor(), store, authenticator, throttle,
                                                  guest, config);
    }

    static DispatcherConfig testConfig()
    {
        DispatcherConfig c;
        c.callPluginInterval = std::chrono::nanoseconds(0);
        return c;
    }

    /// Calls and drives the io_context until answered (fails the test if not within 5 s).
    Outcome call(const std::string& method, Array params, CallContext ctx = {})
    {
        std::optional<Outcome> out;
        dispatcher->call(Call{method, std::move(params)}, std::move(ctx),
                         [&out](Outcome o) { out = std::move(o); });
        if (!runUntil(io, [&out] { return out.has_value(); })) {
            return Outcome::failure({"TEST_TIMEOUT", method});
        }
        return std::move(*out);
    }

    /// Starts a call; the outcome lands in the returned slot.
    std::shared_ptr<std::optional<Outcome>> start(const std::string& method, Array params,
                                                  CallContext ctx = {})
    {
        auto slot = std::make_shared<std::optional<Outcome>>();
        dispatcher->call(Call{method, std::move(params)}, std::move(ctx),
                         [slot](Outcome o) { *slot = std::move(o); });
        return slot;
    }

    std::string login(const std::string& user = "admin", const std::string& pw = "secret")
    {
        auto o = call("session.login_with_password", {user, pw});
        const auto* ref = o.result.getIf<std::string>();
        return o.success && ref != nullptr ? *ref : std::string();
    }

    boost::asio::io_context io;
    metrics::ObjectStore store;
    FakeAuthenticator authenticator;
    auth::LoginThrottle throttle;
    FakeGuestControl guest;
    std::string hostRef, poolRef, dom0Ref, gmRef, winRef, gmNoTsRef, linuxRef, haltedRef;
    std::unique_ptr<Dispatcher> dispatcher;
};

/// The member `key` of a Struct value, or nullptr.
inline const Value* member(const Value& v, const std::string& key)
{
    const auto* s = v.getIf<Struct>();
    if (s == nullptr) return nullptr;
    for (const auto& [k, m] : *s) {
        if (k == key) return &m;
    }
    return nullptr;
}

inline std::vector<std::string> keysOf(const Value& v)
{
    std::vector<std::string> keys;
    if (const auto* s = v.getIf<Struct>()) {
        for (const auto& [k, m] : *s) keys.push_back(k);
    }
    return keys;
}

inline std::string str(const Value* v)
{
    const auto* s = v == nullptr ? nullptr : v->getIf<std::string>();
    return s == nullptr ? std::string("<not a string>") : *s;
}

inline std::string str(const Value& v) { return str(&v); }

}  // namespace xenrdp::xapi_rpc::dispatch::test
