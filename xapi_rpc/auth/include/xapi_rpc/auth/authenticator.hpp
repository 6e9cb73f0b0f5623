#pragma once

#include <xapi_rpc/auth/role.hpp>

#include <functional>
#include <string>

namespace xenrdp::xapi_rpc::auth {

/// The outcome of one login attempt. On failure `role` is ReadOnly and
/// `message` is the text xapi puts in SESSION_AUTHENTICATION_FAILED [user; msg]
/// (e.g. PAM's "Authentication failure"). It never contains the password.
struct AuthResult {
    bool ok = false;
    Role role = Role::ReadOnly;
    std::string message;
};

/// Completion callback of Authenticator::authenticate. It must not throw:
/// implementations swallow anything it throws so that nothing unwinds the io loop.
using AuthDone = std::function<void(AuthResult)>;

/// A login backend (PAM, users file, or a chain of them).
///
/// Threading: authenticate() is called on the io executor the backend was
/// built with; it never blocks. Slow work (PAM, crypt) runs on a pool owned by
/// the backend, and `done` is always invoked later on that io executor, never
/// inline. A pending attempt keeps the io_context's run() from returning.
///
/// Lifetime: destroy a backend only after its io_context stopped; its
/// destructor joins its worker pool (an attempt in progress finishes, queued
/// ones are dropped and their `done` never runs).
///
/// Failure: a failed login is an AuthResult with ok=false, never an exception.
/// The backend does not delay failures; see LoginThrottle.
class Authenticator {
public:
    virtual ~Authenticator() = default;
    Authenticator() = default;
    Authenticator(const Authenticator&) = delete;
    Authenticator& operator=(const Authenticator&) = delete;

    /// Checks `password` for `user` and reports through `done`. The backend
    /// wipes its copies of the password once checked; the caller should wipe
    /// any copy it keeps.
    virtual void authenticate(std::string user, std::string password, AuthDone done) = 0;
};

}  // namespace xenrdp::xapi_rpc::auth
