#pragma once

#include <xapi_rpc/auth/role.hpp>

#include <optional>
#include <sys/types.h>

namespace xenrdp::xapi_rpc::auth {

/// The role granted without a password to a Unix-socket peer, from its
/// SO_PEERCRED uid: PoolAdmin for uid 0 (xapi's local superuser), nullopt for
/// any other uid and for TCP peers (no uid). The dispatch layer decides when
/// to apply it. Pure, thread-safe, never throws.
[[nodiscard]] std::optional<Role> localSuperuser(const std::optional<uid_t>& peerUid) noexcept;

}  // namespace xenrdp::xapi_rpc::auth
