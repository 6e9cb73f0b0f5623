#include <xapi_rpc/auth/local_superuser.hpp>

#include <catch2/catch.hpp>

using namespace xenrdp::xapi_rpc::auth;

TEST_CASE("A Unix-socket peer with uid 0 is a pool-admin local superuser", "[auth][superuser]")
{
    CHECK(localSuperuser(uid_t{0}) == Role::PoolAdmin);
}

TEST_CASE("Other uids and peers without a uid get no local-superuser role", "[auth][superuser]")
{
    CHECK_FALSE(localSuperuser(uid_t{1000}).has_value());
    CHECK_FALSE(localSuperuser(uid_t{65534}).has_value());
    CHECK_FALSE(localSuperuser(std::nullopt).has_value());
}
