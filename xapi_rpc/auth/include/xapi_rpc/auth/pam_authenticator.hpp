#pragma once

#include <xapi_rpc/auth/authenticator.hpp>

#include <boost/asio/any_io_executor.hpp>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

namespace xenrdp::xapi_rpc::auth {

namespace detail {
class BlockingRunner;
}

/// Which XenAPI role a user who passed PAM gets. Default: "root" is
/// pool-admin, everyone else read-only; the daemon's config overrides both.
struct PamRoles {
    std::map<std::string, Role, std::less<>> users{{"root", Role::PoolAdmin}};
    Role fallback = Role::ReadOnly;

    /// The mapped role of `user`, else `fallback`.
    [[nodiscard]] Role roleFor(std::string_view user) const;
};

/// Settings of PamAuthenticator.
struct PamOptions {
    std::string service = "xenrdpd";  ///< the /etc/pam.d/<service> file to use
    PamRoles roles;
};

/// Authenticates through PAM: pam_start(service) / pam_authenticate /
/// pam_acct_mgmt / pam_end, with a conversation that answers the password
/// prompt (PAM_PROMPT_ECHO_OFF) with the password and the login prompt
/// (PAM_PROMPT_ECHO_ON) with the user name. Both calls use PAM_SILENT and
/// PAM_DISALLOW_NULL_AUTHTOK; empty passwords and ones with an embedded NUL
/// fail without reaching PAM. Password copies are wiped (explicit_bzero).
///
/// The package installs /etc/pam.d/xenrdpd as:
///     #%PAM-1.0
///     @include common-auth
///     @include common-account
///
/// The daemon runs as root so that pam_unix can read /etc/shadow.
/// PAM calls block and may be slow (remote backends), so they run on a
/// 2-thread pool owned by this object. PAM's own failure delay is disabled
/// (PAM_FAIL_DELAY hook) so bad passwords do not hold pool threads; delay the
/// answer with LoginThrottle instead. On failure `message` is the
/// module's error message if it sent one, else pam_strerror (e.g.
/// "Authentication failure"). Threading and lifetime as Authenticator;
/// setRoles() may be called from any thread.
class PamAuthenticator final : public Authenticator {
public:
    PamAuthenticator(boost::asio::any_io_executor io, PamOptions options);
    ~PamAuthenticator() override;

    void authenticate(std::string user, std::string password, AuthDone done) override;

    /// Replaces the role map (e.g. on config reload); attempts in flight keep
    /// the map they started with.
    void setRoles(PamRoles roles);

private:
    std::string service_;
    mutable std::mutex mutex_;
    std::shared_ptr<const PamRoles> roles_;  // guarded by mutex_
    std::unique_ptr<detail::BlockingRunner> runner_;  // last: joined first
};

}  // namespace xenrdp::xapi_rpc::auth
