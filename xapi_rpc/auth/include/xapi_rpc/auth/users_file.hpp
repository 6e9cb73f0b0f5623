#pragma once

#include <xapi_rpc/auth/authenticator.hpp>

#include <boost/asio/any_io_executor.hpp>

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace xenrdp::xapi_rpc::auth {

namespace detail {
class BlockingRunner;
}

/// One account of the users file.
struct UserEntry {
    Role role = Role::ReadOnly;
    std::string hash;  ///< crypt(3) string: "$6$..." (SHA-512), "$5$..." or "$y$..."
};

/// Accounts by user name.
using UsersTable = std::map<std::string, UserEntry, std::less<>>;

/// Parses a users file. Format, one account per line:
///     name:role:crypt-hash
/// e.g. `admin:pool-admin:$6$salt$...`; blank lines and lines starting with
/// '#' are ignored, surrounding whitespace is trimmed. The role is one of
/// xapi's role names; the hash must be SHA-512 ($6$), SHA-256 ($5$) or
/// yescrypt ($y$), as `mkpasswd -m sha-512` prints.
/// On any malformed line (wrong field count, empty or blank-containing name,
/// unknown role, other hash scheme, malformed hash, duplicate name) returns
/// nullopt and sets `error` to "<source>:<line>: <reason>"; the whole file is
/// rejected. Pure, thread-safe; the message never contains a full hash.
[[nodiscard]] std::optional<UsersTable> parseUsersFile(std::string_view text,
                                                       std::string_view source, std::string& error);

/// Reads and parses `path` (blocking file read). Read failures are reported
/// like parse errors, as "<path>: <reason>".
[[nodiscard]] std::optional<UsersTable> loadUsersFile(const std::filesystem::path& path,
                                                      std::string& error);

/// Thrown when a users file cannot be loaded at construction.
class UsersFileError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// Authenticates against a users file (see parseUsersFile), verifying with
/// crypt_r and a constant-time comparison on its own 2-thread pool.
///
/// Unknown user, wrong password and an unusable password (empty, embedded
/// NUL) all fail with the same message, "Authentication failure"; an unknown
/// user still costs one SHA-512 hash so timing does not reveal which names exist. Threading and lifetime as Authenticator; reload() may
/// be called from any thread while attempts are in flight (they finish with
/// the table they started with).
class UsersFileAuthenticator final : public Authenticator {
public:
    /// Loads `path`; throws UsersFileError with the parse message on failure.
    UsersFileAuthenticator(boost::asio::any_io_executor io, std::filesystem::path path);
    ~UsersFileAuthenticator() override;

    void authenticate(std::string user, std::string password, AuthDone done) override;

    /// Re-reads the file (blocking read of a small local file, meant for the
    /// SIGHUP path). On failure returns false, sets `error`, and keeps the
    /// previous accounts.
    bool reload(std::string& error);

    /// Number of accounts currently loaded.
    [[nodiscard]] std::size_t size() const;

private:
    [[nodiscard]] std::shared_ptr<const UsersTable> snapshot() const;

    std::filesystem::path path_;
    mutable std::mutex mutex_;
    std::shared_ptr<const UsersTable> table_;  // guarded by mutex_
    std::unique_ptr<detail::BlockingRunner> runner_;  // last: joined first
};

}  // namespace xenrdp::xapi_rpc::auth
