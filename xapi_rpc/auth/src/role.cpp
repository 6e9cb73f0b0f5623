#include <xapi_rpc/auth/role.hpp>

#include <array>
#include <utility>

namespace xenrdp::xapi_rpc::auth {
namespace {

// Indexed by the enum's value; keep in step with the enum's order.
constexpr std::array<std::pair<Role, std::string_view>, 6> roleNames{{
    {Role::ReadOnly, "read-only"},
    {Role::VmOperator, "vm-operator"},
    {Role::VmAdmin, "vm-admin"},
    {Role::VmPowerAdmin, "vm-power-admin"},
    {Role::PoolOperator, "pool-operator"},
    {Role::PoolAdmin, "pool-admin"},
}};

}  // namespace

std::string_view roleName(Role role) noexcept
{
    for (const auto& [value, name] : roleNames) {
        if (value == role) {
            return name;
        }
    }
    return "unknown";
}

std::optional<Role> parseRole(std::string_view name) noexcept
{
    for (const auto& [value, text] : roleNames) {
        if (text == name) {
            return value;
        }
    }
    return std::nullopt;
}

std::vector<Role> rolesAtLeast(Role need)
{
    // xapi lists roles from the most privileged down (datamodel_roles.ml).
    std::vector<Role> roles;
    for (auto it = roleNames.rbegin(); it != roleNames.rend(); ++it) {
        if (atLeast(it->first, need)) {
            roles.push_back(it->first);
        }
    }
    return roles;
}

std::string rolesWithPermission(Role need)
{
    std::string text;
    for (Role role : rolesAtLeast(need)) {
        if (!text.empty()) {
            text += ", ";
        }
        text += roleName(role);
    }
    return text;
}

std::string rbacDeniedMessage(Role need)
{
    return "No permission in user session. (Roles with this permission: " +
           rolesWithPermission(need) + ")";
}

}  // namespace xenrdp::xapi_rpc::auth
