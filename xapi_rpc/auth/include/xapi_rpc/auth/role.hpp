#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace xenrdp::xapi_rpc::auth {

/// The XenAPI RBAC roles, ordered by privilege (lowest first), as xapi's
/// datamodel_roles.ml orders them: read-only < vm-operator < vm-admin <
/// vm-power-admin < pool-operator < pool-admin. The numeric order is what
/// atLeast() compares; do not reorder.
enum class Role { ReadOnly, VmOperator, VmAdmin, VmPowerAdmin, PoolOperator, PoolAdmin };

/// xapi's name for a role, e.g. "vm-power-admin". Pure, thread-safe, never throws.
[[nodiscard]] std::string_view roleName(Role role) noexcept;

/// Parses one of xapi's role names (exact, case-sensitive match, as xapi's
/// role name_label). Returns nullopt for anything else. Pure, thread-safe.
[[nodiscard]] std::optional<Role> parseRole(std::string_view name) noexcept;

/// True when a session holding `have` may call a method that needs `need`
/// (xapi's roles_gte). Pure, thread-safe.
[[nodiscard]] constexpr bool atLeast(Role have, Role need) noexcept
{
    return static_cast<int>(have) >= static_cast<int>(need);
}

/// The roles that satisfy `need`, in the order xapi lists them in its RBAC
/// message: most privileged first (pool-admin, pool-operator, ...).
[[nodiscard]] std::vector<Role> rolesAtLeast(Role need);

/// Those roles' names joined with ", " as xapi's rbac.ml joins them, e.g.
/// for VmOperator "pool-admin, pool-operator, vm-power-admin, vm-admin, vm-operator".
[[nodiscard]] std::string rolesWithPermission(Role need);

/// The second parameter of RBAC_PERMISSION_DENIED [permission; msg]:
/// "No permission in user session. (Roles with this permission: <list>)".
/// The dispatch layer supplies the first (the permission name).
[[nodiscard]] std::string rbacDeniedMessage(Role need);

}  // namespace xenrdp::xapi_rpc::auth
