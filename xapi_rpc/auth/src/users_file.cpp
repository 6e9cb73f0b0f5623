#include <xapi_rpc/auth/users_file.hpp>

#include "blocking_runner.hpp"
#include "crypt_verify.hpp"
#include "secret.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <system_error>
#include <utility>
#include <vector>

namespace xenrdp::xapi_rpc::auth {
namespace {

constexpr std::string_view failureMessage = "Authentication failure";
// A users file is a handful of lines; refuse anything absurd rather than read it.
constexpr std::uintmax_t maxFileSize = 1024 * 1024;

bool isBlank(char c) noexcept
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

std::string_view trim(std::string_view text) noexcept
{
    while (!text.empty() && isBlank(text.front())) {
        text.remove_prefix(1);
    }
    while (!text.empty() && isBlank(text.back())) {
        text.remove_suffix(1);
    }
    return text;
}

std::vector<std::string_view> split(std::string_view line, char sep)
{
    std::vector<std::string_view> fields;
    for (;;) {
        const auto pos = line.find(sep);
        fields.push_back(line.substr(0, pos));
        if (pos == std::string_view::npos) {
            return fields;
        }
        line.remove_prefix(pos + 1);
    }
}

std::string allRoleNames()
{
    std::string names;
    for (int i = 0; i <= static_cast<int>(Role::PoolAdmin); ++i) {
        if (!names.empty()) {
            names += ", ";
        }
        names += roleName(static_cast<Role>(i));
    }
    return names;
}

// Checks one line; returns an error reason or the parsed (name, entry).
std::optional<std::string> parseLine(std::string_view line, std::string& name, UserEntry& entry)
{
    const auto fields = split(line, ':');
    if (fields.size() != 3) {
        return "expected 'name:role:hash' (3 fields separated by ':'), found " +
               std::to_string(fields.size()) + " field" + (fields.size() == 1 ? "" : "s");
    }
    const std::string_view userName = fields[0];
    if (userName.empty()) {
        return std::string("empty user name");
    }
    const bool badChar = std::any_of(userName.begin(), userName.end(), [](char c) {
        return isBlank(c) || static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
    });
    if (badChar) {
        return "user name '" + std::string(userName) +
               "' contains whitespace or control characters";
    }
    const auto role = parseRole(fields[1]);
    if (!role) {
        return "unknown role '" + std::string(fields[1]) + "' (expected one of " +
               allRoleNames() + ")";
    }
    if (fields[2].empty()) {
        return std::string("empty password hash");
    }
    if (auto reason = detail::checkHashFormat(fields[2])) {
        return reason;
    }
    name = std::string(userName);
    entry = UserEntry{*role, std::string(fields[2])};
    return std::nullopt;
}

}  // namespace

std::optional<UsersTable> parseUsersFile(std::string_view text, std::string_view source,
                                         std::string& error)
{
    UsersTable table;
    std::map<std::string, std::size_t, std::less<>> firstLine;
    std::size_t lineNo = 0;
    while (!text.empty()) {
        ++lineNo;
        const auto end = text.find('\n');
        const std::string_view line = trim(text.substr(0, end));
        text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
        if (line.empty() || line.front() == '#') {
            continue;
        }
        const auto fail = [&error, source, lineNo](const std::string& reason) {
            error = std::string(source) + ":" + std::to_string(lineNo) + ": " + reason;
            return std::nullopt;
        };
        std::string name;
        UserEntry entry;
        if (auto reason = parseLine(line, name, entry)) {
            return fail(*reason);
        }
        if (auto seen = firstLine.find(name); seen != firstLine.end()) {
            return fail("duplicate user '" + name + "' (first defined at line " +
                        std::to_string(seen->second) + ")");
        }
        firstLine.emplace(name, lineNo);
        table.emplace(std::move(name), std::move(entry));
    }
    return table;
}

std::optional<UsersTable> loadUsersFile(const std::filesystem::path& path, std::string& error)
{
    const std::string source = path.string();
    std::error_code ec;
    const auto size = std::filesystem::file_size(path, ec);
    if (ec) {
        error = source + ": cannot read users file: " + ec.message();
        return std::nullopt;
    }
    if (size > maxFileSize) {
        error = source + ": users file is larger than " + std::to_string(maxFileSize) + " bytes";
        return std::nullopt;
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        error = source + ": cannot open users file: " + std::strerror(errno);
        return std::nullopt;
    }
    std::ostringstream content;
    content << in.rdbuf();
    if (in.bad()) {
        error = source + ": read error";
        return std::nullopt;
    }
    return parseUsersFile(content.str(), source, error);
}

UsersFileAuthenticator::UsersFileAuthenticator(boost::asio::any_io_executor io,
                                               std::filesystem::path path)
    : path_(std::move(path))
{
    std::string error;
    auto table = loadUsersFile(path_, error);
    if (!table) {
        throw UsersFileError(error);
    }
    table_ = std::make_shared<const UsersTable>(std::move(*table));
    runner_ = std::make_unique<detail::BlockingRunner>(std::move(io), 2);
}

UsersFileAuthenticator::~UsersFileAuthenticator() = default;

std::shared_ptr<const UsersTable> UsersFileAuthenticator::snapshot() const
{
    const std::lock_guard lock(mutex_);
    return table_;
}

std::size_t UsersFileAuthenticator::size() const
{
    return snapshot()->size();
}

bool UsersFileAuthenticator::reload(std::string& error)
{
    auto table = loadUsersFile(path_, error);
    if (!table) {
        return false;  // keep serving the accounts we had
    }
    auto fresh = std::make_shared<const UsersTable>(std::move(*table));
    const std::lock_guard lock(mutex_);
    table_ = std::move(fresh);
    return true;
}

void UsersFileAuthenticator::authenticate(std::string user, std::string password, AuthDone done)
{
    // The job owns the table it started with, so a reload cannot pull it away.
    runner_->run(
        [table = snapshot(), user = std::move(user),
         secret = detail::Secret(password)]() -> AuthResult {
            const auto found = table->find(user);
            const bool known = found != table->end();
            // Unknown users still pay for one hash computation so that timing
            // does not tell which names exist.
            const std::string_view hash = known ? std::string_view(found->second.hash)
                                                : detail::dummyHash();
            const bool match = !secret.unusable() && detail::verifyHash(secret.value(), hash);
            if (known && match) {
                return AuthResult{true, found->second.role, {}};
            }
            return AuthResult{false, Role::ReadOnly, std::string(failureMessage)};
        },
        std::move(done));
}

}  // namespace xenrdp::xapi_rpc::auth
