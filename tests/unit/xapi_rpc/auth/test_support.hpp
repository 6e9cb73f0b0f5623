#pragma once

// Helpers shared by the auth unit tests: waiting on the io_context with a
// deadline, crypt hashes made at test time, and throwaway files.

#include <xapi_rpc/auth/authenticator.hpp>

#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/require.hpp>

#include <catch2/catch.hpp>
#include <crypt.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>

namespace xenrdp::xapi_rpc::auth::test {

/// Runs `ioc` one handler at a time until `condition` holds or `timeout`
/// passes; returns whether it holds.
template <typename Condition>
bool runUntil(boost::asio::io_context& ioc, Condition condition,
              std::chrono::milliseconds timeout = std::chrono::seconds(20))
{
    // A work-tracking executor keeps run_one_for waiting instead of returning at once.
    const auto work =
        boost::asio::require(ioc.get_executor(), boost::asio::execution::outstanding_work.tracked);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!condition()) {
        const auto now = std::chrono::steady_clock::now();
        if (now >= deadline) {
            return false;
        }
        if (ioc.stopped()) {
            ioc.restart();  // an earlier wait let the work count reach zero
        }
        ioc.run_one_for(deadline - now);
    }
    return true;
}

/// Collects one AuthResult and where/when it arrived.
struct Outcome {
    std::optional<AuthResult> result;
    std::thread::id thread;
    std::chrono::steady_clock::time_point at;

    AuthDone callback()
    {
        return [self = this](AuthResult r) {
            self->thread = std::this_thread::get_id();
            self->at = std::chrono::steady_clock::now();
            self->result = std::move(r);
        };
    }
    [[nodiscard]] bool done() const { return result.has_value(); }
};

/// crypt(3) hash of `password` with a fresh salt of the given scheme ("$6$", "$5$", "$y$").
inline std::string makeHash(const std::string& password, const char* prefix = "$6$")
{
    char salt[CRYPT_GENSALT_OUTPUT_SIZE] = {};
    REQUIRE(::crypt_gensalt_rn(prefix, 0, nullptr, 0, salt, sizeof salt) != nullptr);
    auto data = std::make_unique<crypt_data>();
    const char* hash = ::crypt_r(password.c_str(), salt, data.get());
    REQUIRE(hash != nullptr);
    REQUIRE(hash[0] != '*');
    return hash;
}

/// Lowercase hex suffix for unique test names.
inline std::string randomSuffix()
{
    std::random_device device;
    std::uniform_int_distribution<unsigned> digit(0, 15);
    std::string text;
    for (int i = 0; i < 10; ++i) {
        text += "0123456789abcdef"[digit(device)];
    }
    return text;
}

/// A file under the temp directory, removed on destruction.
class TempFile {
public:
    explicit TempFile(const std::string& content)
        : path_(std::filesystem::temp_directory_path() / ("xenrdp-auth-" + randomSuffix()))
    {
        write(content);
    }
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;
    ~TempFile()
    {
        std::error_code ignored;
        std::filesystem::remove(path_, ignored);
    }

    void write(const std::string& content) const
    {
        std::ofstream out(path_, std::ios::binary | std::ios::trunc);
        out << content;
        REQUIRE(out.good());
    }
    [[nodiscard]] const std::filesystem::path& path() const { return path_; }

private:
    std::filesystem::path path_;
};

}  // namespace xenrdp::xapi_rpc::auth::test
