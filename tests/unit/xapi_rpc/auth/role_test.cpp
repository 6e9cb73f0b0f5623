#include <xapi_rpc/auth/role.hpp>

#include <catch2/catch.hpp>

#include <array>

using namespace xenrdp::xapi_rpc::auth;

namespace {
constexpr std::array<Role, 6> ascending{Role::ReadOnly,     Role::VmOperator,   Role::VmAdmin,
                                        Role::VmPowerAdmin, Role::PoolOperator, Role::PoolAdmin};
}

TEST_CASE("Roles compare in xapi's privilege order", "[auth][role]")
{
    for (std::size_t have = 0; have < ascending.size(); ++have) {
        for (std::size_t need = 0; need < ascending.size(); ++need) {
            INFO("have=" << roleName(ascending[have]) << " need=" << roleName(ascending[need]));
            CHECK(atLeast(ascending[have], ascending[need]) == (have >= need));
        }
    }
    CHECK_FALSE(atLeast(Role::ReadOnly, Role::VmOperator));
    CHECK(atLeast(Role::PoolAdmin, Role::VmOperator));
}

TEST_CASE("Every role prints as its xapi name and parses back", "[auth][role]")
{
    constexpr std::array<std::string_view, 6> names{"read-only",      "vm-operator",   "vm-admin",
                                                    "vm-power-admin", "pool-operator", "pool-admin"};
    for (std::size_t i = 0; i < ascending.size(); ++i) {
        CHECK(roleName(ascending[i]) == names[i]);
        CHECK(parseRole(names[i]) == ascending[i]);
    }
}

TEST_CASE("Names that are not exactly a xapi role name do not parse", "[auth][role]")
{
    for (std::string_view bad : {"", "Pool-Admin", "pool_admin", " pool-admin", "pool-admin ",
                                 "admin", "client-cert", "root"}) {
        INFO("name='" << bad << "'");
        CHECK_FALSE(parseRole(bad).has_value());
    }
}

TEST_CASE("Roles with a permission are listed most privileged first, comma-separated",
          "[auth][role]")
{
    CHECK(rolesWithPermission(Role::VmOperator) ==
          "pool-admin, pool-operator, vm-power-admin, vm-admin, vm-operator");
    CHECK(rolesWithPermission(Role::PoolAdmin) == "pool-admin");
    CHECK(rolesAtLeast(Role::ReadOnly).size() == 6);
    CHECK(rolesAtLeast(Role::ReadOnly).front() == Role::PoolAdmin);
}

TEST_CASE("The RBAC denial message uses xapi's wording", "[auth][role]")
{
    CHECK(rbacDeniedMessage(Role::VmOperator) ==
          "No permission in user session. (Roles with this permission: pool-admin, "
          "pool-operator, vm-power-admin, vm-admin, vm-operator)");
}
