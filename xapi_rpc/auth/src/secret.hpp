#pragma once

#include <cstring>
#include <memory>
#include <string>
#include <string_view>

namespace xenrdp::xapi_rpc::auth::detail {

/// Overwrites a string's characters (explicit_bzero, which the optimiser may
/// not drop) and empties it.
inline void wipe(std::string& text) noexcept
{
    if (!text.empty()) {
        ::explicit_bzero(text.data(), text.size());
    }
    text.clear();
}

/// A password held on the heap, so moving a Secret (as Asio moves handlers)
/// never leaves a copy of the bytes behind; wiped on destruction.
/// Not thread-safe; owned by one job at a time.
class Secret {
public:
    /// Copies `source` and wipes it.
    explicit Secret(std::string& source) : value_(std::make_unique<std::string>(source))
    {
        wipe(source);
    }
    Secret(Secret&&) noexcept = default;
    Secret& operator=(Secret&&) = delete;
    Secret(const Secret&) = delete;
    Secret& operator=(const Secret&) = delete;
    ~Secret()
    {
        if (value_) {
            wipe(*value_);
        }
    }

    [[nodiscard]] const std::string& value() const noexcept { return *value_; }

    /// True for a password that a C API could not see whole: empty, or with
    /// an embedded NUL (crypt and PAM would silently truncate it).
    [[nodiscard]] bool unusable() const noexcept
    {
        return value_->empty() || value_->find('\0') != std::string::npos;
    }

private:
    std::unique_ptr<std::string> value_;
};

}  // namespace xenrdp::xapi_rpc::auth::detail
