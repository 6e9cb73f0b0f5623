#include <xapi_rpc/dispatch/session_manager.hpp>

#include <algorithm>
#include <utility>

#include <metrics/records.hpp>

namespace xenrdp::xapi_rpc::dispatch {

namespace {

/// At least one session in all, and a group's cap within the overall one.
SessionLimits normalized(SessionLimits limits)
{
    if (limits.maxSessions == 0) limits.maxSessions = 1;
    limits.maxSessionsPerUser = std::clamp<std::size_t>(limits.maxSessionsPerUser, 1, limits.maxSessions);
    return limits;
}

/// xapi's grouping: root's sessions by originator, everyone else's by name.
std::string groupOf(const std::string& user, const std::string& originator)
{
    if (user.empty() || user == "root") return "originator:" + originator;
    return "user:" + user;
}

}  // namespace

SessionManager::SessionManager(SessionLimits limits, std::function<Clock::time_point()> now)
    : limits_(normalized(limits)), now_(std::move(now))
{
}

void SessionManager::setLimits(const SessionLimits& limits) noexcept
{
    limits_ = normalized(limits);
}

bool SessionManager::expired(const Session& s, Clock::time_point now) const
{
    return now - s.lastUsed >= limits_.idleTimeout;
}

const Session& SessionManager::create(std::string user, auth::Role role, bool isLocalSuperuser,
                                      std::string originator)
{
    expire();
    std::string group = groupOf(user, originator);
    // Room is made as SessionLimits says: first within the login's own
    // group, then, at the overall cap, in the largest group.
    const auto inGroup = static_cast<std::size_t>(std::count_if(
        sessions_.begin(), sessions_.end(), [&group](const auto& entry) { return entry.second.group == group; }));
    for (std::size_t n = inGroup; n >= limits_.maxSessionsPerUser; --n) evictLeastRecentlyUsed(group);
    while (sessions_.size() >= limits_.maxSessions) evictLeastRecentlyUsed("");
    const auto now = now_();
    Session s;
    s.uuid = metrics::randomUuid();
    s.ref = "OpaqueRef:" + s.uuid;
    s.user = std::move(user);
    s.role = role;
    s.isLocalSuperuser = isLocalSuperuser;
    s.originator = std::move(originator);
    s.group = std::move(group);
    s.created = now;
    s.lastUsed = now;
    std::string ref = s.ref;
    auto [it, inserted] = sessions_.emplace(std::move(ref), std::move(s));
    (void)inserted;  // 122 random bits: a clash is not a practical concern
    return it->second;
}

const Session* SessionManager::use(const std::string& ref)
{
    auto it = sessions_.find(ref);
    if (it == sessions_.end()) return nullptr;
    const auto now = now_();
    if (expired(it->second, now)) {
        removeAndNotify(ref);
        return nullptr;
    }
    it->second.lastUsed = now;
    return &it->second;
}

const Session* SessionManager::peek(const std::string& ref) const
{
    auto it = sessions_.find(ref);
    return it == sessions_.end() ? nullptr : &it->second;
}

bool SessionManager::destroy(const std::string& ref)
{
    if (sessions_.find(ref) == sessions_.end()) return false;
    removeAndNotify(ref);
    return true;
}

std::size_t SessionManager::expire()
{
    const auto now = now_();
    std::vector<std::string> gone;
    for (const auto& [ref, s] : sessions_) {
        if (expired(s, now)) gone.push_back(ref);
    }
    for (const auto& ref : gone) removeAndNotify(ref);
    return gone.size();
}

void SessionManager::onRemoved(std::function<void(const std::string& ref)> listener)
{
    onRemoved_ = std::move(listener);
}

void SessionManager::evictLeastRecentlyUsed(const std::string& group)
{
    // No group given: candidates are the sessions of the largest groups.
    std::unordered_map<std::string, std::size_t> sizes;
    std::size_t largest = 0;
    if (group.empty()) {
        for (const auto& [ref, s] : sessions_) largest = std::max(largest, ++sizes[s.group]);
    }
    const Session* victim = nullptr;
    for (const auto& [ref, s] : sessions_) {
        const bool candidate = group.empty() ? sizes[s.group] == largest : s.group == group;
        if (candidate && (victim == nullptr || s.lastUsed < victim->lastUsed)) victim = &s;
    }
    if (victim != nullptr) removeAndNotify(victim->ref);
}

void SessionManager::removeAndNotify(const std::string& ref)
{
    // Copy first: `ref` may point into the erased entry.
    std::string gone = ref;
    sessions_.erase(gone);
    if (onRemoved_) onRemoved_(gone);
}

}  // namespace xenrdp::xapi_rpc::dispatch
