#include <xapi_rpc/dispatch/session_manager.hpp>

#include <algorithm>
#include <utility>

#include <metrics/records.hpp>

namespace xenrdp::xapi_rpc::dispatch {

SessionManager::SessionManager(SessionLimits limits, std::function<Clock::time_point()> now)
    : limits_(limits), now_(std::move(now))
{
    if (limits_.maxSessions == 0) limits_.maxSessions = 1;
}

bool SessionManager::expired(const Session& s, Clock::time_point now) const
{
    return now - s.lastUsed >= limits_.idleTimeout;
}

const Session& SessionManager::create(std::string user, auth::Role role, bool isLocalSuperuser,
                                      std::string originator)
{
    expire();
    // At the cap, the least recently used session makes room (see SessionLimits).
    while (sessions_.size() >= limits_.maxSessions) {
        auto oldest = std::min_element(sessions_.begin(), sessions_.end(),
                                       [](const auto& a, const auto& b) {
                                           return a.second.lastUsed < b.second.lastUsed;
                                       });
        std::string ref = oldest->first;
        removeAndNotify(ref);
    }
    const auto now = now_();
    Session s;
    s.uuid = metrics::randomUuid();
    s.ref = "OpaqueRef:" + s.uuid;
    s.user = std::move(user);
    s.role = role;
    s.isLocalSuperuser = isLocalSuperuser;
    s.originator = std::move(originator);
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

void SessionManager::removeAndNotify(const std::string& ref)
{
    // Copy first: `ref` may point into the erased entry.
    std::string gone = ref;
    sessions_.erase(gone);
    if (onRemoved_) onRemoved_(gone);
}

}  // namespace xenrdp::xapi_rpc::dispatch
