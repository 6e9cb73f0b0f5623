#include <xenstore/error.hpp>

#include <cerrno>

#include <catch2/catch.hpp>

using namespace xenrdp::xenstore;

TEST_CASE("errnoCode wraps errno in the xenstore category and compares with std::errc",
          "[xenstore][unit]")
{
    const std::error_code ec = errnoCode(EACCES);
    CHECK(std::string(ec.category().name()) == "xenstore");
    CHECK(ec.value() == EACCES);
    CHECK(ec == std::errc::permission_denied);
    CHECK_FALSE(ec.message().empty());
}

TEST_CASE("errnoCode of zero is success", "[xenstore][unit]")
{
    CHECK_FALSE(errnoCode(0));
}

TEST_CASE("XsErrc values convert to error codes with their own messages", "[xenstore][unit]")
{
    const std::error_code ec = XsErrc::notConnected;
    CHECK(&ec.category() == &xenstoreCategory());
    CHECK(ec.message() == "not connected to xenstored");
}

TEST_CASE("isConnectionLoss recognises dead-handle errors but not ENOENT or EINVAL",
          "[xenstore][unit]")
{
    CHECK(isConnectionLoss(errnoCode(EPIPE)));
    CHECK(isConnectionLoss(errnoCode(ECONNRESET)));
    CHECK(isConnectionLoss(errnoCode(EIO)));
    CHECK(isConnectionLoss(XsErrc::notConnected));
    CHECK_FALSE(isConnectionLoss(errnoCode(ENOENT)));
    CHECK_FALSE(isConnectionLoss(errnoCode(EINVAL)));
    CHECK_FALSE(isConnectionLoss(std::make_error_code(std::errc::broken_pipe)));
}
