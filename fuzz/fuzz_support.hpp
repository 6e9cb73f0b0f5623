#pragma once
// Shared by the libFuzzer targets: the dispatch unit tests' in-memory world
// (ObjectStore with dom0, a Windows VM, a VM without feature-ts2 and a halted
// VM; fake Authenticator and GuestControl), plus a way for fuzz inputs to name
// real refs.  Top-level string parameters spelled "@session", "@reader",
// "@vm", "@dom0", "@linux", "@halted" or "@gm" are replaced with a live
// session or object ref before dispatch, so the fuzzer reaches the method
// bodies instead of stopping at SESSION_INVALID.
#include <chrono>
#include <string>

#include <dispatch_test_support.hpp>

namespace xenrdp::fuzz {

using xapi_rpc::dispatch::test::Fixture;

/// One fixture per fuzzer process; event.from and event.next wait at most
/// 1 ms so an input cannot stall the run.
inline Fixture& world()
{
    static Fixture* fixture = [] {
        auto config = Fixture::testConfig();
        config.maxEventTimeout = std::chrono::milliseconds(1);
        return new Fixture(config, std::chrono::milliseconds(0));  // lives for the process
    }();
    return *fixture;
}

/// Replaces the placeholders described above in `call`'s top-level params.
inline void bindPlaceholders(xapi_rpc::Call& call)
{
    Fixture& w = world();
    static const std::string admin = w.login("admin", "secret");
    static const std::string reader = w.login("reader", "readpw");
    for (auto& param : call.params) {
        const auto* s = param.getIf<std::string>();
        if (s == nullptr || s->empty() || (*s)[0] != '@') continue;
        if (*s == "@session") param = admin;
        else if (*s == "@reader") param = reader;
        else if (*s == "@vm") param = w.winRef;
        else if (*s == "@dom0") param = w.dom0Ref;
        else if (*s == "@linux") param = w.linuxRef;
        else if (*s == "@halted") param = w.haltedRef;
        else if (*s == "@gm") param = w.gmRef;
    }
}

/// Dispatches `call` and drives the io_context until it is answered.
inline xapi_rpc::Outcome dispatch(xapi_rpc::Call call)
{
    bindPlaceholders(call);
    return world().call(call.method, std::move(call.params));
}

}  // namespace xenrdp::fuzz
