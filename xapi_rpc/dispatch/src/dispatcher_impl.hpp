#pragma once
// Internal to xenrdp_xapi_dispatch: the Dispatcher's state and the helpers
// its method files share. Not installed, not included by any public header.
#include <xapi_rpc/dispatch/dispatcher.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/steady_timer.hpp>

#include <metrics/object_store.hpp>
#include <metrics/records.hpp>

namespace xenrdp::xapi_rpc::dispatch {

/// A XenAPI failure raised while handling a call; call() turns it into the
/// Outcome. Only thrown synchronously inside call(), never out of a completion.
struct ApiError {
    std::vector<std::string> error;
};

[[noreturn]] void fail(std::vector<std::string> error);

class DispatcherImpl;

/// What every copy of one call's Reply shares.
struct ReplyState {
    bool answered = false;
    std::chrono::steady_clock::time_point start;
    const std::string* statName = nullptr;  ///< a key of methods_, or kUnknownMethodStat
    Dispatcher::Done done;
    std::weak_ptr<int> life;  ///< the dispatcher's; expired once it is gone
    DispatcherImpl* dispatcher = nullptr;
};

/// Answers a call once; later calls are ignored. Never throws. Copies share
/// one ReplyState, so copying one (into a timer or a waiter) allocates nothing.
class Reply {
public:
    Reply() = default;
    explicit Reply(std::shared_ptr<ReplyState> state) noexcept : state_(std::move(state)) {}
    void operator()(Outcome outcome) const;

private:
    std::shared_ptr<ReplyState> state_;
};

/// One call on its way through a method.
struct Invocation {
    Call call;
    CallContext ctx;
    /// The caller's session; null for session-less methods. Valid while the
    /// method runs synchronously only: a completion that needs a field copies it.
    const Session* session = nullptr;
    Reply reply;
};

struct MethodSpec {
    std::size_t minParams = 0;  ///< wire params, session included
    std::size_t maxParams = 0;
    bool needsSession = true;
    bool anyParams = false;  ///< no arity check (system.listMethods)
    auth::Role role = auth::Role::ReadOnly;
    std::function<void(Invocation&)> run;
};

// Typed parameter access: FIELD_TYPE_ERROR [name] on a wrong type.
const std::string& stringParam(const Invocation& inv, std::size_t index, const char* name);
metrics::StringMap mapParam(const Invocation& inv, std::size_t index, const char* name);
std::vector<std::string> stringSetParam(const Invocation& inv, std::size_t index, const char* name);
double floatParam(const Invocation& inv, std::size_t index, const char* name);

std::string toLower(std::string s);
/// "%020llu,%020llu" of (generation, 0).
std::string formatToken(std::uint64_t generation);

class EventWaiter;
struct EventRegistration {
    metrics::ClassFilter filter;
    std::uint64_t cursor = 0;
};

class DispatcherImpl {
public:
    DispatcherImpl(boost::asio::any_io_executor io, metrics::ObjectStore& store,
                   auth::Authenticator& authenticator, const auth::LoginThrottle& throttle,
                   GuestControl& guestControl, DispatcherConfig config,
                   std::shared_ptr<spdlog::logger> logger);
    ~DispatcherImpl();

    void call(Call call, CallContext ctx, Dispatcher::Done done);
    /// What calls of methods not served are counted under.
    static const std::string kUnknownMethodStat;
    std::vector<std::string> methodNames() const;
    const DispatchCounters& counters();

    // Registration (dispatcher.cpp).
    void add(const std::string& name, MethodSpec spec);
    /// A method whose result is computed at once.
    void addSync(const std::string& name, std::size_t params, auth::Role role,
                 std::function<Value(Invocation&)> fn);

    void registerSystemAndSession();  // dispatcher.cpp
    void registerObjects();           // object_methods.cpp
    void registerCallPlugin();        // call_plugin.cpp
    void registerEvents();            // events.cpp

    /// The coordinator: the first pool's master if it is a live host, else
    /// the first host, else OpaqueRef:NULL.
    std::string masterHost() const;
    /// Lowercase names of the session methods `role` may call.
    std::vector<std::string> permissionsOf(auth::Role role) const;

    // Event waiters (events.cpp).
    void onSessionRemoved(const std::string& ref);
    void recheckWaiter(std::uint64_t id);
    void finishWaiter(std::uint64_t id, Outcome outcome);
    void timeoutWaiter(std::uint64_t id);
    void releaseWaiters();
    void armWaiter(const std::shared_ptr<EventWaiter>& waiter);
    Value eventsFromChanges(const std::vector<metrics::Change>& changes, bool legacy) const;
    Value eventFromResult(const metrics::ChangesResult& result) const;

    boost::asio::any_io_executor io_;
    metrics::ObjectStore& store_;
    auth::Authenticator& auth_;
    const auth::LoginThrottle& throttle_;
    GuestControl& guest_;
    DispatcherConfig config_;
    std::shared_ptr<spdlog::logger> log_;
    SessionManager sessions_;
    std::unordered_map<std::string, MethodSpec> methods_;
    DispatchCounters counters_;
    /// Completions scheduled on the executor hold a weak_ptr to this; once
    /// the dispatcher is gone they do nothing.
    std::shared_ptr<int> life_ = std::make_shared<int>(0);

    /// VM ref -> monotonic time of its last accepted VM.call_plugin.
    std::unordered_map<std::string, std::chrono::steady_clock::time_point> pluginCalls_;

    std::unordered_map<std::uint64_t, std::shared_ptr<EventWaiter>> waiters_;
    std::uint64_t nextWaiter_ = 1;
    /// Set by releaseWaiters(): waits that start afterwards end at once.
    bool waitersReleased_ = false;
    std::unordered_map<std::string, EventRegistration> registrations_;  ///< by session ref
};

}  // namespace xenrdp::xapi_rpc::dispatch
