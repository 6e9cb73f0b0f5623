#include <xapi_rpc/auth/pam_authenticator.hpp>

#include "blocking_runner.hpp"
#include "secret.hpp"

#include <security/pam_appl.h>

#include <cstdlib>
#include <cstring>
#include <utility>

namespace xenrdp::xapi_rpc::auth {
namespace {

constexpr std::string_view failureMessage = "Authentication failure";
// Linux user names are at most 32 characters; leave room for other NSS sources.
constexpr std::size_t maxUserLength = 256;

// What the conversation function needs; lives on the PAM job's stack.
struct Conversation {
    const std::string* user;
    const std::string* password;
    std::string moduleMessage;  // last PAM_ERROR_MSG, reported on failure
};

void freeReplies(pam_response* replies, int count) noexcept
{
    for (int i = 0; i < count; ++i) {
        if (char* text = replies[i].resp) {
            ::explicit_bzero(text, std::strlen(text));
            std::free(text);  // NOLINT(cppcoreguidelines-no-malloc): PAM's ownership contract
        }
    }
    std::free(replies);  // NOLINT(cppcoreguidelines-no-malloc)
}

// PAM's conversation callback. C code calls it, so nothing may throw out of it.
// Replies are malloc'd because PAM frees them.
int converse(int count, const pam_message** messages, pam_response** responses,
             void* appData) noexcept
{
    if (count <= 0 || count > PAM_MAX_NUM_MSG || messages == nullptr || responses == nullptr ||
        appData == nullptr) {
        return PAM_CONV_ERR;
    }
    auto* conv = static_cast<Conversation*>(appData);
    // NOLINTNEXTLINE(cppcoreguidelines-no-malloc)
    auto* replies = static_cast<pam_response*>(std::calloc(static_cast<std::size_t>(count),
                                                           sizeof(pam_response)));
    if (replies == nullptr) {
        return PAM_BUF_ERR;
    }
    try {
        for (int i = 0; i < count; ++i) {
            const pam_message* message = messages[i];
            switch (message->msg_style) {
            case PAM_PROMPT_ECHO_OFF:
                replies[i].resp = ::strdup(conv->password->c_str());
                break;
            case PAM_PROMPT_ECHO_ON:
                replies[i].resp = ::strdup(conv->user->c_str());
                break;
            case PAM_ERROR_MSG:
                if (message->msg != nullptr) {
                    conv->moduleMessage = message->msg;
                }
                continue;
            case PAM_TEXT_INFO:
                continue;
            default:
                freeReplies(replies, count);
                return PAM_CONV_ERR;
            }
            if (replies[i].resp == nullptr) {
                freeReplies(replies, count);
                return PAM_BUF_ERR;
            }
        }
    } catch (...) {
        freeReplies(replies, count);
        return PAM_BUF_ERR;
    }
    *responses = replies;
    return PAM_SUCCESS;
}

// PAM_FAIL_DELAY hook: instead of pam_unix sleeping ~2 s on a pool thread
// after a bad password (which would let a few bad logins starve the pool),
// the delay is left to LoginThrottle, which waits on a timer.
void skipFailDelay(int /*status*/, unsigned int /*delayMicroseconds*/, void* /*appData*/) noexcept {}

// Owns a pam_handle_t; pam_end gets the status of the last PAM call, as PAM requires.
class PamHandle {
public:
    PamHandle() = default;
    PamHandle(const PamHandle&) = delete;
    PamHandle& operator=(const PamHandle&) = delete;
    ~PamHandle()
    {
        if (handle_ != nullptr) {
            ::pam_end(handle_, status_);
        }
    }

    pam_handle_t** out() noexcept { return &handle_; }
    [[nodiscard]] pam_handle_t* get() const noexcept { return handle_; }
    int track(int status) noexcept
    {
        status_ = status;
        return status;
    }

private:
    pam_handle_t* handle_ = nullptr;
    int status_ = PAM_SUCCESS;
};

AuthResult failure(std::string message)
{
    return AuthResult{false, Role::ReadOnly, std::move(message)};
}

// The blocking part; runs on the pool.
AuthResult runPam(const std::string& service, const std::string& user,
                  const detail::Secret& password, const PamRoles& roles)
{
    if (user.empty() || user.size() > maxUserLength || user.find('\0') != std::string::npos ||
        password.unusable()) {
        return failure(std::string(failureMessage));
    }
    Conversation conv{&user, &password.value(), {}};
    const pam_conv callbacks{&converse, &conv};
    PamHandle handle;
    const int started = handle.track(
        ::pam_start(service.c_str(), user.c_str(), &callbacks, handle.out()));
    if (started != PAM_SUCCESS) {
        return failure("PAM service '" + service + "' unavailable: " +
                       ::pam_strerror(handle.get(), started));
    }
    // PAM_FAIL_DELAY takes the callback as a const void*; a function-pointer-to-
    // object-pointer conversion is what the PAM API requires here.
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
    if (const int status = handle.track(::pam_set_item(
            handle.get(), PAM_FAIL_DELAY, reinterpret_cast<const void*>(&skipFailDelay)));
        status != PAM_SUCCESS) {
        return failure("PAM service '" + service + "': " + ::pam_strerror(handle.get(), status));
    }
    const auto describe = [&conv, &handle](int status) {
        return conv.moduleMessage.empty() ? std::string(::pam_strerror(handle.get(), status))
                                          : conv.moduleMessage;
    };
    constexpr int flags = PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK;
    if (const int status = handle.track(::pam_authenticate(handle.get(), flags));
        status != PAM_SUCCESS) {
        return failure(describe(status));
    }
    // Expired or locked accounts pass authentication but fail here.
    if (const int status = handle.track(::pam_acct_mgmt(handle.get(), flags));
        status != PAM_SUCCESS) {
        return failure(describe(status));
    }
    return AuthResult{true, roles.roleFor(user), {}};
}

}  // namespace

Role PamRoles::roleFor(std::string_view user) const
{
    const auto found = users.find(user);
    return found != users.end() ? found->second : fallback;
}

PamAuthenticator::PamAuthenticator(boost::asio::any_io_executor io, PamOptions options)
    : service_(std::move(options.service)),
      roles_(std::make_shared<const PamRoles>(std::move(options.roles))),
      runner_(std::make_unique<detail::BlockingRunner>(std::move(io), 2))
{
}

PamAuthenticator::~PamAuthenticator() = default;

void PamAuthenticator::setRoles(PamRoles roles)
{
    auto fresh = std::make_shared<const PamRoles>(std::move(roles));
    const std::lock_guard lock(mutex_);
    roles_ = std::move(fresh);
}

void PamAuthenticator::authenticate(std::string user, std::string password, AuthDone done)
{
    std::shared_ptr<const PamRoles> roles;
    {
        const std::lock_guard lock(mutex_);
        roles = roles_;
    }
    runner_->run(
        [service = service_, roles = std::move(roles), user = std::move(user),
         secret = detail::Secret(password)]() { return runPam(service, user, secret, *roles); },
        std::move(done));
}

}  // namespace xenrdp::xapi_rpc::auth
