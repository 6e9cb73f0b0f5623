#pragma once
/// Dispatcher: XenAPI method registry, sessions, RBAC and the methods
/// xenrdpd serves (xenapi-clients.md §5): system, session, pool, host, role,
/// task, VM, VM_guest_metrics, console, event.
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

#include <metrics/object_store.hpp>
#include <xapi_rpc/auth/authenticator.hpp>
#include <xapi_rpc/auth/login_throttle.hpp>
#include <xapi_rpc/codec/value.hpp>
#include <xapi_rpc/dispatch/counters.hpp>
#include <xapi_rpc/dispatch/guest_control.hpp>
#include <xapi_rpc/dispatch/session_manager.hpp>
#include <xapi_rpc/transport/http_message.hpp>

namespace spdlog {
class logger;
}

namespace xenrdp::xapi_rpc::dispatch {

/// Where a call came from.
struct CallContext {
    enum class Transport { Tcp, Tls, Unix, Internal };
    Transport transport = Transport::Tcp;
    std::optional<uid_t> peerUid;  ///< SO_PEERCRED uid, Unix sockets only
    std::string peerAddress;       ///< for logs
    /// The connection the call came in on (null when there is none): a
    /// pending event.from / event.next ends when it closes.
    std::shared_ptr<transport::ConnectionStatus> connection;
};

/// Tunables.
struct DispatcherConfig {
    SessionLimits sessions;
    /// Per-VM VM.call_plugin interval (xapi's vm_call_plugin_interval,
    /// default 10 s); zero disables the limit.
    std::chrono::nanoseconds callPluginInterval = std::chrono::seconds(10);
    /// event.from / event.next wait at most this long, whatever the client asks.
    std::chrono::milliseconds maxEventTimeout = std::chrono::hours(1);
};

class DispatcherImpl;

/// Serves XenAPI calls against an ObjectStore.
///
/// Order of checks for every call, as xapi's generated server does:
/// method known (MESSAGE_METHOD_UNKNOWN [method]), parameter count
/// (MESSAGE_PARAMETER_COUNT_MISMATCH [method, expected, received], counts
/// include the session parameter), the session parameter's type
/// (FIELD_TYPE_ERROR ["session_id"]), the session (SESSION_INVALID [ref as
/// sent]), RBAC (RBAC_PERMISSION_DENIED [permission, msg]), then the other
/// parameters' types (FIELD_TYPE_ERROR [param name]: refs, uuids and
/// strings must be strings, maps structs of strings, sets arrays of
/// strings, floats doubles or ints) and the method's own checks.
///
/// Choices where xapi gives no single answer:
///  - Login: a Unix-socket peer with uid 0 gets a pool-admin session without
///    a valid password (auth::localSuperuser); everyone else goes through the
///    Authenticator, failures delayed by the LoginThrottle. A pool-admin
///    login counts as local superuser (xenrdpd has no external-auth subjects).
///  - role and task are served as empty classes ({} / []).
///  - event.from: classes "*", "<class>", "<class>/<ref>" in any case; an
///    unknown class matches nothing (as in xapi), "a/b/c" is
///    EVENT_SUBSCRIPTION_PARSE_FAILURE; tokens "", "<gen>,<gen2>" or "<gen>";
///    a token ahead of the store (e.g. from before a restart) or history the
///    store no longer holds is EVENTS_LOST []; timeout (float or int) is
///    capped at maxEventTimeout. event.next answers [] at that cap.
///  - VM.call_plugin accepts fn "request-rdp-on"/"-off" (xapi, XenCenter) and
///    "request_rdp_on"/"_off" (the design document); "run-script" is not
///    offered and fails like any unknown fn.
///
/// A pending event.from / event.next whose client goes away (its
/// CallContext::connection closes) is answered at once, as if its timeout had
/// passed, so it holds no waiter, timer or store callback until its timeout.
///
/// Threading: single io thread. Construct, call() and destroy on the io
/// executor; `done` always runs on it, exactly once, either inline (most
/// methods) or later (login, VM.call_plugin, event.from/next). Nothing blocks:
/// event.from waits on the store's change notification plus a timer.
/// Ownership: holds references to the store, authenticator, throttle and
/// guest control, which must outlive it. Destroying the dispatcher drops
/// pending event waits without calling their `done`.
/// Failure: no exception leaves call() or a completion; anything unexpected
/// becomes INTERNAL_ERROR [message].
class Dispatcher {
public:
    using Done = std::function<void(Outcome)>;

    Dispatcher(boost::asio::any_io_executor io, metrics::ObjectStore& store,
               auth::Authenticator& authenticator, const auth::LoginThrottle& throttle,
               GuestControl& guestControl, DispatcherConfig config = {},
               std::shared_ptr<spdlog::logger> logger = nullptr);
    ~Dispatcher();
    Dispatcher(const Dispatcher&) = delete;
    Dispatcher& operator=(const Dispatcher&) = delete;

    void call(Call call, CallContext ctx, Done done);

    /// Every method served, sorted (what system.listMethods answers).
    std::vector<std::string> methodNames() const;
    /// Counters, with sessions/eventWaiters refreshed (idle-expired sessions
    /// are destroyed first, so `sessions` counts live ones).
    const DispatchCounters& counters() const;
    SessionManager& sessions();

    /// Answers every pending event.from / event.next now, as if its timeout
    /// had passed, and ends any later wait at once.  Called when the daemon
    /// stops, so a long-poll gets its answer instead of holding the drain
    /// until its bound.  Io executor only.
    void releaseWaiters();

    /// New per-VM VM.call_plugin interval (SIGHUP); zero disables the limit.
    /// Calls already recorded are judged by the new interval.  Io executor only.
    void setCallPluginInterval(std::chrono::nanoseconds interval) noexcept;

private:
    std::unique_ptr<DispatcherImpl> impl_;
};

}  // namespace xenrdp::xapi_rpc::dispatch
