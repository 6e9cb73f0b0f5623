#pragma once
/// SessionManager: the live XenAPI sessions ("OpaqueRef:<uuid>") of the daemon.
#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include <xapi_rpc/auth/role.hpp>

namespace xenrdp::xapi_rpc::dispatch {

/// Bounds on sessions.
struct SessionLimits {
    /// A session unused for this long is destroyed (xapi keeps idle sessions
    /// for 24 h before its session GC reaps them; we do the same).
    std::chrono::seconds idleTimeout{std::chrono::hours(24)};
    /// Live sessions at most. A login beyond it evicts the least recently
    /// used session (as xapi evicts the oldest sessions of an originator
    /// beyond its cap) rather than refusing the login, so a client that
    /// leaks sessions cannot lock everybody out.
    std::size_t maxSessions = 1000;
};

/// One XenAPI session. Not tied to any connection: any connection may use it,
/// concurrently.
struct Session {
    std::string ref;  ///< "OpaqueRef:<random uuid>"
    std::string uuid;
    std::string user;
    auth::Role role = auth::Role::ReadOnly;
    bool isLocalSuperuser = false;
    std::string originator;
    std::chrono::steady_clock::time_point created;
    std::chrono::steady_clock::time_point lastUsed;
};

/// Owns the sessions. Refs are random version-4 UUIDs (122 random bits from
/// the OS), so they cannot be guessed.
///
/// Threading: not thread-safe; used on the io executor only. Nothing blocks.
/// Failure: create() throws std::runtime_error only if the OS has no entropy
/// source; nothing else throws except std::bad_alloc.
class SessionManager {
public:
    using Clock = std::chrono::steady_clock;
    /// `now` is the clock (tests pass a fake one).
    explicit SessionManager(SessionLimits limits = {},
                            std::function<Clock::time_point()> now = &Clock::now);

    /// Creates a session; evicts idle-expired sessions and, at the cap, the
    /// least recently used one (each reported to the removal listener).
    const Session& create(std::string user, auth::Role role, bool isLocalSuperuser,
                          std::string originator);
    /// The live session with this ref, its last use set to now; nullptr if
    /// unknown or idle-expired (an expired one is destroyed here).
    /// The pointer is valid until the next create/destroy/expire.
    const Session* use(const std::string& ref);
    /// The live session without touching its last use (nullptr if unknown).
    const Session* peek(const std::string& ref) const;
    /// Logout. Returns false for an unknown ref.
    bool destroy(const std::string& ref);
    /// Destroys every idle-expired session; returns how many.
    std::size_t expire();
    std::size_t size() const noexcept { return sessions_.size(); }

    /// Called with the ref of every session that goes (logout, expiry,
    /// eviction), after it is gone. One listener; a later call replaces it.
    void onRemoved(std::function<void(const std::string& ref)> listener);

private:
    void removeAndNotify(const std::string& ref);
    bool expired(const Session& s, Clock::time_point now) const;

    SessionLimits limits_;
    std::function<Clock::time_point()> now_;
    std::unordered_map<std::string, Session> sessions_;
    std::function<void(const std::string&)> onRemoved_;
};

}  // namespace xenrdp::xapi_rpc::dispatch
