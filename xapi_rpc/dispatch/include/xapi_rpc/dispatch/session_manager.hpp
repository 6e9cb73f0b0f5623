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
///
/// Sessions are counted per group, as xapi's session GC counts them
/// (db_gc.ml timeout_sessions): the sessions of one user name form a group,
/// except root's (user "root" or ""), which are grouped by originator, since
/// all of root's clients share one name.
///
/// A login whose group already holds maxSessionsPerUser sessions evicts that
/// group's least recently used session (xapi destroys a group's oldest beyond
/// its limit). A login that finds maxSessions live sessions in all evicts the
/// least recently used session of the largest group. So a user who logs in
/// over and over only ever pushes out their own sessions, or those of a
/// user who holds at least as many: a read-only account cannot evict a
/// pool-admin's or XenCenter's session. No login is ever refused for want
/// of room.
struct SessionLimits {
    /// A session unused for this long is destroyed (xapi keeps idle sessions
    /// for 24 h before its session GC reaps them; we do the same).
    std::chrono::seconds idleTimeout{std::chrono::hours(24)};
    /// Live sessions at most, all groups together.
    std::size_t maxSessions = 1000;
    /// Live sessions of one group at most (xapi: 500 per user name and per
    /// originator).
    std::size_t maxSessionsPerUser = 500;
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
    std::string group;  ///< what the per-user cap counts: "user:<name>" or, for root, "originator:<originator>"
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

    /// Creates a session; evicts idle-expired sessions and, at a cap, one
    /// least recently used session as SessionLimits says (each reported to
    /// the removal listener). Never refuses.
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
    /// New limits (SIGHUP): the idle timeout applies to every session from
    /// its next use or sweep, a lower cap from the next login on.
    void setLimits(const SessionLimits& limits) noexcept;

    /// Called with the ref of every session that goes (logout, expiry,
    /// eviction), after it is gone. One listener; a later call replaces it.
    void onRemoved(std::function<void(const std::string& ref)> listener);

private:
    void removeAndNotify(const std::string& ref);
    /// Removes the least recently used session whose group is `group`, or of
    /// any group whose size is the largest when `group` is empty.
    void evictLeastRecentlyUsed(const std::string& group);
    bool expired(const Session& s, Clock::time_point now) const;

    SessionLimits limits_;
    std::function<Clock::time_point()> now_;
    std::unordered_map<std::string, Session> sessions_;
    std::function<void(const std::string&)> onRemoved_;
};

}  // namespace xenrdp::xapi_rpc::dispatch
