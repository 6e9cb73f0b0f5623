#include <xapi_rpc/auth/local_superuser.hpp>

namespace xenrdp::xapi_rpc::auth {

std::optional<Role> localSuperuser(const std::optional<uid_t>& peerUid) noexcept
{
    if (peerUid && *peerUid == 0) {
        return Role::PoolAdmin;
    }
    return std::nullopt;
}

}  // namespace xenrdp::xapi_rpc::auth
