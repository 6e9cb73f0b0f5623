#include "dispatcher_impl.hpp"

#include <algorithm>
#include <cctype>
#include <cinttypes>
#include <cstdio>
#include <exception>
#include <optional>
#include <utility>

#include <spdlog/logger.h>
#include <spdlog/spdlog.h>

#include <xapi_rpc/auth/local_superuser.hpp>
#include <xapi_rpc/dispatch/wire_records.hpp>
#include <xapi_rpc/transport/log_text.hpp>

namespace xenrdp::xapi_rpc::dispatch {

void fail(std::vector<std::string> error) { throw ApiError{std::move(error)}; }

namespace {

const Value& param(const Invocation& inv, std::size_t index)
{
    // Arity was checked before the method ran; this guards programming errors.
    if (index >= inv.call.params.size()) fail({"INTERNAL_ERROR", "missing parameter"});
    return inv.call.params[index];
}

void wipe(std::string& secret) noexcept
{
    std::fill(secret.begin(), secret.end(), '\0');
    secret.clear();
}

}  // namespace

const std::string& stringParam(const Invocation& inv, std::size_t index, const char* name)
{
    const auto* s = param(inv, index).getIf<std::string>();
    if (s == nullptr) fail({"FIELD_TYPE_ERROR", name});
    return *s;
}

metrics::StringMap mapParam(const Invocation& inv, std::size_t index, const char* name)
{
    const auto* s = param(inv, index).getIf<Struct>();
    if (s == nullptr) fail({"FIELD_TYPE_ERROR", name});
    metrics::StringMap out;
    for (const auto& [k, v] : *s) {
        const auto* text = v.getIf<std::string>();
        if (text == nullptr) fail({"FIELD_TYPE_ERROR", name});
        out[k] = *text;
    }
    return out;
}

std::vector<std::string> stringSetParam(const Invocation& inv, std::size_t index, const char* name)
{
    const auto* a = param(inv, index).getIf<Array>();
    if (a == nullptr) fail({"FIELD_TYPE_ERROR", name});
    std::vector<std::string> out;
    out.reserve(a->size());
    for (const auto& v : *a) {
        const auto* text = v.getIf<std::string>();
        if (text == nullptr) fail({"FIELD_TYPE_ERROR", name});
        out.push_back(*text);
    }
    return out;
}

double floatParam(const Invocation& inv, std::size_t index, const char* name)
{
    const Value& v = param(inv, index);
    if (const auto* d = v.getIf<double>()) return *d;
    if (const auto* i = v.getIf<std::int64_t>()) return static_cast<double>(*i);
    if (const auto* i32 = v.getIf<Int32>()) return static_cast<double>(i32->value);
    fail({"FIELD_TYPE_ERROR", name});
}

std::string toLower(std::string s)
{
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

std::string formatToken(std::uint64_t generation)
{
    char buf[48];
    std::snprintf(buf, sizeof buf, "%020" PRIu64 ",%020d", generation, 0);
    return buf;
}

DispatcherImpl::DispatcherImpl(boost::asio::any_io_executor io, metrics::ObjectStore& store,
                               auth::Authenticator& authenticator,
                               const auth::LoginThrottle& throttle, GuestControl& guestControl,
                               DispatcherConfig config, std::shared_ptr<spdlog::logger> logger)
    : io_(std::move(io)),
      store_(store),
      auth_(authenticator),
      throttle_(throttle),
      guest_(guestControl),
      config_(config),
      log_(logger ? std::move(logger) : std::make_shared<spdlog::logger>("rpc")),
      sessions_(config.sessions)
{
    sessions_.onRemoved([self = this](const std::string& ref) { self->onSessionRemoved(ref); });
    registerSystemAndSession();
    registerObjects();
    registerCallPlugin();
    registerEvents();
}

void DispatcherImpl::add(const std::string& name, MethodSpec spec) { methods_[name] = std::move(spec); }

void DispatcherImpl::addSync(const std::string& name, std::size_t params, auth::Role role,
                             std::function<Value(Invocation&)> fn)
{
    MethodSpec spec;
    spec.minParams = params;
    spec.maxParams = params;
    spec.role = role;
    spec.run = [fn = std::move(fn)](Invocation& inv) { inv.reply(Outcome::ok(fn(inv))); };
    add(name, std::move(spec));
}

std::vector<std::string> DispatcherImpl::methodNames() const
{
    std::vector<std::string> names;
    names.reserve(methods_.size());
    for (const auto& [name, spec] : methods_) names.push_back(name);
    std::sort(names.begin(), names.end());
    return names;
}

std::vector<std::string> DispatcherImpl::permissionsOf(auth::Role role) const
{
    std::vector<std::string> out;
    for (const auto& [name, spec] : methods_) {
        if (spec.needsSession && auth::atLeast(role, spec.role)) out.push_back(toLower(name));
    }
    std::sort(out.begin(), out.end());
    return out;
}

const DispatchCounters& DispatcherImpl::counters()
{
    // Sessions expire lazily; reap first so that the gauge counts live ones.
    sessions_.expire();
    counters_.sessions = sessions_.size();
    counters_.eventWaiters = waiters_.size();
    return counters_;
}

std::string DispatcherImpl::masterHost() const
{
    for (const auto& [ref, rec] : store_.all(metrics::ObjectClass::Pool)) {
        const auto* pool = std::get_if<metrics::PoolRecord>(rec.get());
        if (pool != nullptr && store_.getAs<metrics::HostRecord>(pool->master) != nullptr) {
            return pool->master;
        }
    }
    auto hosts = store_.all(metrics::ObjectClass::Host);
    return hosts.empty() ? std::string(metrics::kNullRef) : hosts.front().first;
}

const std::string DispatcherImpl::kUnknownMethodStat = "<unknown>";

// The one place a call is answered: once only, counted, never throwing.
void Reply::operator()(Outcome outcome) const
{
    if (!state_ || state_->answered) return;
    ReplyState& s = *state_;
    s.answered = true;
    try {
        if (!s.life.expired()) {
            auto& c = s.dispatcher->counters_;
            auto& m = c.methods[*s.statName];
            ++m.calls;
            if (!outcome.success) {
                ++m.errors;
                ++c.errors[outcome.error.empty() ? std::string("INTERNAL_ERROR") : outcome.error[0]];
            }
            const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - s.start).count();
            std::size_t bucket = 0;
            while (bucket < DispatchCounters::latencyBounds.size() && secs > DispatchCounters::latencyBounds[bucket]) {
                ++bucket;
            }
            ++c.latencyBuckets[bucket];
            c.latencySumSeconds += secs;
            ++c.latencyCount;
        }
        s.done(std::move(outcome));
    } catch (...) {
        // The caller's completion threw; nothing sensible is left to answer.
    }
}

void DispatcherImpl::call(Call call, CallContext ctx, Dispatcher::Done done)
{
    auto it = methods_.find(call.method);
    // One allocation answers the call, however often its Reply is copied.
    auto state = std::make_shared<ReplyState>();
    state->start = std::chrono::steady_clock::now();
    state->statName = it == methods_.end() ? &kUnknownMethodStat : &it->first;
    state->done = std::move(done);
    state->life = life_;
    state->dispatcher = this;
    const Reply reply(std::move(state));

    try {
        if (it == methods_.end()) fail({"MESSAGE_METHOD_UNKNOWN", call.method});
        const MethodSpec& spec = it->second;
        const std::size_t n = call.params.size();
        if (!spec.anyParams && (n < spec.minParams || n > spec.maxParams)) {
            fail({"MESSAGE_PARAMETER_COUNT_MISMATCH", call.method, std::to_string(spec.maxParams),
                  std::to_string(n)});
        }
        Invocation inv{std::move(call), std::move(ctx), nullptr, reply};
        if (spec.needsSession) {
            const auto* ref = inv.call.params[0].getIf<std::string>();
            if (ref == nullptr) fail({"FIELD_TYPE_ERROR", "session_id"});
            const Session* session = sessions_.use(*ref);
            if (session == nullptr) fail({"SESSION_INVALID", *ref});
            if (!auth::atLeast(session->role, spec.role)) {
                fail({"RBAC_PERMISSION_DENIED", toLower(inv.call.method),
                      auth::rbacDeniedMessage(spec.role)});
            }
            inv.session = session;
        }
        spec.run(inv);
    } catch (const ApiError& e) {
        reply(Outcome::failure(e.error));
    } catch (const std::exception& e) {
        log_->error("RPC_INTERNAL_ERROR method={} what={}", it == methods_.end() ? "?" : it->first,
                    transport::logText(e.what(), transport::kLogMessageMaxBytes));
        reply(Outcome::failure({"INTERNAL_ERROR", e.what()}));
    } catch (...) {
        reply(Outcome::failure({"INTERNAL_ERROR", "unknown exception"}));
    }
}

void DispatcherImpl::registerSystemAndSession()
{
    using auth::Role;
    {
        MethodSpec spec;
        spec.needsSession = false;
        spec.anyParams = true;
        spec.run = [self = this](Invocation& inv) {
            Array names;
            for (auto& n : self->methodNames()) names.emplace_back(std::move(n));
            inv.reply(Outcome::ok(Value(std::move(names))));
        };
        add("system.listMethods", std::move(spec));
    }
    {
        MethodSpec spec;
        spec.minParams = 2;
        spec.maxParams = 4;
        spec.needsSession = false;
        spec.run = [self = this](Invocation& inv) {
            std::string user = stringParam(inv, 0, "uname");
            std::string password = stringParam(inv, 1, "pwd");
            if (inv.call.params.size() > 2) (void)stringParam(inv, 2, "version");
            std::string originator = inv.call.params.size() > 3 ? stringParam(inv, 3, "originator") : "";
            // Drop the request's copy of the password as soon as we hold ours.
            if (auto* p = std::get_if<std::string>(&inv.call.params[1].storage())) wipe(*p);
            // Root on the local Unix socket needs no password (xapi's local superuser).
            const auto role = inv.ctx.transport == CallContext::Transport::Unix
                                  ? auth::localSuperuser(inv.ctx.peerUid)
                                  : std::nullopt;
            if (role) {
                wipe(password);
                const Session& s = self->sessions_.create(user, *role, true, originator);
                ++self->counters_.loginsSucceeded;
                self->log_->info("RPC_LOGIN user={} peer={} local_superuser=1", transport::logText(user),
                                 inv.ctx.peerAddress);
                inv.reply(Outcome::ok(Value(s.ref)));
                return;
            }
            // Everyone else is checked by the Authenticator; failures are
            // delayed by the throttle on a timer, never by blocking.
            auto done = [life = std::weak_ptr<int>(self->life_), self, user, originator,
                         peer = inv.ctx.peerAddress, reply = inv.reply](auth::AuthResult result) {
                try {
                    if (life.expired()) {
                        reply(Outcome::failure({"INTERNAL_ERROR", "server shutting down"}));
                        return;
                    }
                    if (!result.ok) {
                        ++self->counters_.loginsFailed;
                        self->log_->warn("RPC_LOGIN_FAILED user={} peer={}", transport::logText(user), peer);
                        reply(Outcome::failure({"SESSION_AUTHENTICATION_FAILED", user, result.message}));
                        return;
                    }
                    // xenrdpd has no external-auth subjects: a pool-admin account
                    // stands where xapi's local root does (XenCenter then skips
                    // its AD lookups).
                    const bool superuser = result.role == auth::Role::PoolAdmin;
                    const Session& s = self->sessions_.create(user, result.role, superuser, originator);
                    ++self->counters_.loginsSucceeded;
                    self->log_->info("RPC_LOGIN user={} peer={} role={}", transport::logText(user), peer,
                                     auth::roleName(result.role));
                    reply(Outcome::ok(Value(s.ref)));
                } catch (const std::exception& e) {
                    reply(Outcome::failure({"INTERNAL_ERROR", e.what()}));
                } catch (...) {
                    reply(Outcome::failure({"INTERNAL_ERROR", "unknown exception"}));
                }
            };
            // Hand over a copy and wipe ours: a moved-from short string keeps
            // its characters in its inline buffer, where wipe() (size 0) would
            // not reach them.  The authenticator wipes the copy it gets.
            self->auth_.authenticate(user, std::string(password), self->throttle_.wrap(std::move(done)));
            wipe(password);
        };
        add("session.login_with_password", std::move(spec));
    }
    addSync("session.logout", 1, Role::ReadOnly, [self = this](Invocation& inv) {
        const std::string ref = inv.session->ref;  // destroy() ends the session holding it
        self->sessions_.destroy(ref);
        return Value("");
    });
    // The session-valued getters take (session_id, self) where self is a session ref.
    auto targetSession = [self = this](const Invocation& inv) -> const Session& {
        const std::string& ref = stringParam(inv, 1, "self");
        const Session* s = self->sessions_.peek(ref);
        if (s == nullptr) fail({"HANDLE_INVALID", "session", ref});
        return *s;
    };
    addSync("session.get_this_host", 2, Role::ReadOnly,
            [self = this, targetSession](Invocation& inv) {
                (void)targetSession(inv);
                return Value(self->masterHost());
            });
    addSync("session.get_this_user", 2, Role::ReadOnly, [targetSession](Invocation& inv) {
        (void)targetSession(inv);
        return Value(metrics::kNullRef);
    });
    addSync("session.get_is_local_superuser", 2, Role::ReadOnly, [targetSession](Invocation& inv) {
        return Value(targetSession(inv).isLocalSuperuser);
    });
    // XenCenter asks for these two when get_is_local_superuser is false
    // (xenapi-clients.md §4.2). xenrdpd has no external-auth subjects: every
    // login is a local-password one, which xapi records with subject
    // OpaqueRef:NULL and auth_user_sid "" (as get_record shows).
    addSync("session.get_subject", 2, Role::ReadOnly, [targetSession](Invocation& inv) {
        (void)targetSession(inv);
        return Value(metrics::kNullRef);
    });
    addSync("session.get_auth_user_sid", 2, Role::ReadOnly, [targetSession](Invocation& inv) {
        (void)targetSession(inv);
        return Value("");
    });
    addSync("session.get_uuid", 2, Role::ReadOnly,
            [targetSession](Invocation& inv) { return Value(targetSession(inv).uuid); });
    addSync("session.get_rbac_permissions", 2, Role::ReadOnly,
            [self = this, targetSession](Invocation& inv) {
                Array perms;
                for (auto& p : self->permissionsOf(targetSession(inv).role)) perms.emplace_back(std::move(p));
                return Value(std::move(perms));
            });
    addSync("session.get_record", 2, Role::ReadOnly, [self = this, targetSession](Invocation& inv) {
        const Session& s = targetSession(inv);
        Array perms;
        for (auto& p : self->permissionsOf(s.role)) perms.emplace_back(std::move(p));
        return Value(Struct{
            {"uuid", Value(s.uuid)},
            {"this_host", Value(self->masterHost())},
            {"this_user", Value(metrics::kNullRef)},
            {"last_active", Value(DateTime{formatDateTime(std::chrono::system_clock::now())})},
            {"pool", Value(false)},
            {"other_config", Value(Struct{})},
            {"is_local_superuser", Value(s.isLocalSuperuser)},
            {"subject", Value(metrics::kNullRef)},
            {"validation_time", Value(DateTime{"19700101T00:00:00Z"})},
            {"auth_user_sid", Value("")},
            {"auth_user_name", Value(s.user)},
            {"rbac_permissions", Value(std::move(perms))},
            {"tasks", Value(Array{})},
            {"parent", Value(metrics::kNullRef)},
            {"originator", Value(s.originator)},
            {"client_certificate", Value(false)},
        });
    });
}

Dispatcher::Dispatcher(boost::asio::any_io_executor io, metrics::ObjectStore& store,
                       auth::Authenticator& authenticator, const auth::LoginThrottle& throttle,
                       GuestControl& guestControl, DispatcherConfig config,
                       std::shared_ptr<spdlog::logger> logger)
    : impl_(std::make_unique<DispatcherImpl>(std::move(io), store, authenticator, throttle,
                                             guestControl, config, std::move(logger)))
{
}

Dispatcher::~Dispatcher() = default;

void Dispatcher::call(Call call, CallContext ctx, Done done)
{
    impl_->call(std::move(call), std::move(ctx), std::move(done));
}

std::vector<std::string> Dispatcher::methodNames() const { return impl_->methodNames(); }

const DispatchCounters& Dispatcher::counters() const { return impl_->counters(); }

SessionManager& Dispatcher::sessions() { return impl_->sessions_; }

void Dispatcher::releaseWaiters() { impl_->releaseWaiters(); }

}  // namespace xenrdp::xapi_rpc::dispatch
