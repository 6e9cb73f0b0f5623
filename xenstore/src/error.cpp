#include <xenstore/error.hpp>

#include <cerrno>
#include <cstring>

namespace xenrdp::xenstore {
namespace {

class XenstoreCategory final : public std::error_category {
public:
    const char* name() const noexcept override { return "xenstore"; }

    std::string message(int value) const override
    {
        switch (static_cast<XsErrc>(value)) {
        case XsErrc::ok:
            return "success";
        case XsErrc::notConnected:
            return "not connected to xenstored";
        case XsErrc::badPath:
            return "invalid xenstore path";
        case XsErrc::retriesExhausted:
            return "transaction kept conflicting";
        case XsErrc::stopped:
            return "xenstore connection stopped";
        }
        // Everything else is an errno value from libxenstore.
        return std::strerror(value);
    }

    std::error_condition default_error_condition(int value) const noexcept override
    {
        // errno values compare equal to std::errc, so callers may test
        // `ec == std::errc::permission_denied`.
        if (value > 0 && value < 1000)
            return {value, std::generic_category()};
        return {value, *this};
    }
};

}  // namespace

const std::error_category& xenstoreCategory() noexcept
{
    static const XenstoreCategory category;
    return category;
}

std::error_code make_error_code(XsErrc e) noexcept
{
    return {static_cast<int>(e), xenstoreCategory()};
}

std::error_code errnoCode(int err) noexcept
{
    if (err == 0)
        return {};
    return {err, xenstoreCategory()};
}

bool isConnectionLoss(const std::error_code& ec) noexcept
{
    if (ec == XsErrc::notConnected)
        return true;
    if (ec.category() != xenstoreCategory())
        return false;
    switch (ec.value()) {
    case EPIPE:
    case ECONNRESET:
    case ECONNREFUSED:
    case ECONNABORTED:
    case ENOTCONN:
    case ESHUTDOWN:
    case EBADF:
    case EIO:
        return true;
    default:
        return false;
    }
}

}  // namespace xenrdp::xenstore
