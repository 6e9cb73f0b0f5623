// event.from, event.inject, event.get_current_id and the legacy
// event.register / next / unregister (reference xapi-rdp-and-wire.md §7.7-7.8,
// xenapi-clients.md §5.2). Waiting costs no thread: a waiter is a store
// change notification plus a steady_timer, both on the io executor.
#include "dispatcher_impl.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <optional>
#include <utility>

#include <boost/asio/post.hpp>

#include <xapi_rpc/dispatch/wire_records.hpp>

namespace xenrdp::xapi_rpc::dispatch {

/// One event.from or event.next call waiting for a change.
class EventWaiter {
public:
    explicit EventWaiter(const boost::asio::any_io_executor& io) : timer(io) {}
    std::uint64_t id = 0;
    bool legacy = false;  ///< event.next: filter and cursor live in the session's registration
    std::string sessionRef;
    metrics::ClassFilter filter;
    std::uint64_t since = 0;
    Reply reply;
    boost::asio::steady_timer timer;
    std::optional<metrics::ObjectStore::WaiterId> storeWait;
    /// The caller's connection (may be null) and our close callback on it.
    std::shared_ptr<transport::ConnectionStatus> connection;
    std::uint64_t closeWatch = 0;
};

namespace {

using metrics::ObjectClass;

constexpr ObjectClass kStoreClasses[] = {ObjectClass::Pool, ObjectClass::Host, ObjectClass::Vm,
                                         ObjectClass::GuestMetrics, ObjectClass::Console};

std::optional<ObjectClass> classByLowerName(const std::string& lower)
{
    for (ObjectClass cls : kStoreClasses) {
        if (toLower(metrics::className(cls)) == lower) return cls;
    }
    return std::nullopt;
}

/// xapi's subscription strings: "*", "<class>" or "<class>/<ref>", any case.
/// Classes xenrdpd has no objects of match nothing (xapi accepts any
/// table name); more than one "/" is EVENT_SUBSCRIPTION_PARSE_FAILURE.
void addSubscriptions(metrics::ClassFilter& filter, const std::vector<std::string>& classes)
{
    for (const auto& s : classes) {
        if (s == "*") {
            filter.classes.fill(true);
            continue;
        }
        const auto slash = s.find('/');
        if (slash == std::string::npos) {
            if (auto cls = classByLowerName(toLower(s))) filter.classes[static_cast<std::size_t>(*cls)] = true;
            continue;
        }
        if (s.find('/', slash + 1) != std::string::npos) fail({"EVENT_SUBSCRIPTION_PARSE_FAILURE", s});
        if (classByLowerName(toLower(s.substr(0, slash)))) filter.refs.push_back(s.substr(slash + 1));
    }
}

void removeSubscriptions(metrics::ClassFilter& filter, const std::vector<std::string>& classes)
{
    for (const auto& s : classes) {
        if (s == "*") {
            filter = metrics::ClassFilter{};
            continue;
        }
        const auto slash = s.find('/');
        if (slash == std::string::npos) {
            if (auto cls = classByLowerName(toLower(s))) filter.classes[static_cast<std::size_t>(*cls)] = false;
            continue;
        }
        const std::string ref = s.substr(slash + 1);
        std::erase(filter.refs, ref);
    }
}

std::optional<std::uint64_t> parseNumber(std::string_view text)
{
    if (text.empty() || text.size() > 20) return std::nullopt;
    std::uint64_t v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return v;
}

/// "" (from the beginning), "<gen>,<msg gen>" (xapi's form) or a bare "<gen>".
std::optional<std::uint64_t> parseToken(const std::string& token)
{
    if (token.empty()) return 0;
    const auto comma = token.find(',');
    if (comma == std::string::npos) return parseNumber(token);
    if (!parseNumber(std::string_view(token).substr(comma + 1))) return std::nullopt;
    return parseNumber(std::string_view(token).substr(0, comma));
}

std::chrono::milliseconds clampTimeout(double seconds, std::chrono::milliseconds cap)
{
    if (!(seconds > 0.0)) return std::chrono::milliseconds(0);  // also NaN
    const double capSecs = std::chrono::duration<double>(cap).count();
    if (seconds >= capSecs) return cap;
    return std::chrono::milliseconds(static_cast<std::int64_t>(std::ceil(seconds * 1000.0)));
}

}  // namespace

DispatcherImpl::~DispatcherImpl()
{
    // Pending waiters are dropped unanswered; the store outlives us, so take
    // our callbacks out of it.
    for (auto& [id, w] : waiters_) {
        if (w->storeWait) store_.cancelWait(*w->storeWait);
        if (w->connection) w->connection->forget(w->closeWatch);
        w->timer.cancel();
    }
}

Value DispatcherImpl::eventsFromChanges(const std::vector<metrics::Change>& changes, bool legacy) const
{
    std::string timestamp = "0.0";
    if (legacy) {
        const auto now = std::chrono::system_clock::now().time_since_epoch();
        timestamp = ocamlFloat(static_cast<double>(std::chrono::duration_cast<std::chrono::seconds>(now).count()));
    }
    Array events;
    events.reserve(changes.size());
    for (const auto& c : changes) {
        Struct ev;
        ev.emplace_back("id", Value(std::to_string(c.generation)));
        ev.emplace_back("timestamp", Value(timestamp));
        ev.emplace_back("class", Value(toLower(metrics::className(c.cls))));
        const char* op = c.op == metrics::ChangeOp::Add ? "add" : c.op == metrics::ChangeOp::Mod ? "mod" : "del";
        ev.emplace_back("operation", Value(op));
        ev.emplace_back("ref", Value(c.ref));
        if (c.op != metrics::ChangeOp::Del && c.snapshot) {
            ev.emplace_back("snapshot", recordValue(*c.snapshot, FieldContext{store_, c.ref}));
        }
        events.emplace_back(std::move(ev));
    }
    return Value(std::move(events));
}

Value DispatcherImpl::eventFromResult(const metrics::ChangesResult& result) const
{
    Struct counts;
    for (ObjectClass cls : kStoreClasses) {
        counts.emplace_back(toLower(metrics::className(cls)),
                            Value(Int32{static_cast<std::int32_t>(store_.count(cls))}));
    }
    counts.emplace_back("role", Value(Int32{0}));
    counts.emplace_back("task", Value(Int32{0}));
    Struct out;
    out.emplace_back("events", eventsFromChanges(result.changes, false));
    out.emplace_back("valid_ref_counts", Value(std::move(counts)));
    out.emplace_back("token", Value(formatToken(result.generation)));
    return Value(std::move(out));
}

void DispatcherImpl::armWaiter(const std::shared_ptr<EventWaiter>& waiter)
{
    // The store calls us inside its own update; only post the real work.
    waiter->storeWait = store_.waitForChange(
        [io = io_, life = std::weak_ptr<int>(life_), self = this, id = waiter->id]() {
            boost::asio::post(io, [life, self, id]() {
                if (!life.expired()) self->recheckWaiter(id);
            });
        });
}

void DispatcherImpl::finishWaiter(std::uint64_t id, Outcome outcome)
{
    auto it = waiters_.find(id);
    if (it == waiters_.end()) return;
    auto waiter = std::move(it->second);
    waiters_.erase(it);
    if (waiter->storeWait) store_.cancelWait(*waiter->storeWait);
    if (waiter->connection) waiter->connection->forget(waiter->closeWatch);
    waiter->timer.cancel();
    waiter->reply(std::move(outcome));
}

void DispatcherImpl::recheckWaiter(std::uint64_t id)
{
    auto it = waiters_.find(id);
    if (it == waiters_.end()) return;
    auto waiter = it->second;
    waiter->storeWait.reset();
    try {
        metrics::ChangesResult result;
        if (waiter->legacy) {
            auto reg = registrations_.find(waiter->sessionRef);
            if (reg == registrations_.end()) {
                finishWaiter(id, Outcome::failure({"SESSION_NOT_REGISTERED", waiter->sessionRef}));
                return;
            }
            result = store_.changesSince(reg->second.cursor, reg->second.filter);
            if (result.lost) {
                reg->second.cursor = store_.generation();
                finishWaiter(id, Outcome::failure({"EVENTS_LOST"}));
                return;
            }
            if (result.changes.empty()) {
                armWaiter(waiter);
                return;
            }
            reg->second.cursor = result.generation;
            finishWaiter(id, Outcome::ok(eventsFromChanges(result.changes, true)));
            return;
        }
        result = store_.changesSince(waiter->since, waiter->filter);
        if (result.lost) {
            finishWaiter(id, Outcome::failure({"EVENTS_LOST"}));
        } else if (result.changes.empty()) {
            armWaiter(waiter);  // a change of classes this waiter does not follow
        } else {
            finishWaiter(id, Outcome::ok(eventFromResult(result)));
        }
    } catch (const std::exception& e) {
        finishWaiter(id, Outcome::failure({"INTERNAL_ERROR", e.what()}));
    }
}

void DispatcherImpl::timeoutWaiter(std::uint64_t id)
{
    auto it = waiters_.find(id);
    if (it == waiters_.end()) return;
    auto waiter = it->second;
    try {
        if (waiter->legacy) {
            // xapi's event.next never returns empty; we answer [] at the cap
            // instead of holding the connection forever.
            finishWaiter(id, Outcome::ok(Value(Array{})));
            return;
        }
        // Whatever arrived meanwhile (usually nothing) with a fresh token.
        auto result = store_.changesSince(waiter->since, waiter->filter);
        if (result.lost) {
            finishWaiter(id, Outcome::failure({"EVENTS_LOST"}));
        } else {
            finishWaiter(id, Outcome::ok(eventFromResult(result)));
        }
    } catch (const std::exception& e) {
        finishWaiter(id, Outcome::failure({"INTERNAL_ERROR", e.what()}));
    }
}

void DispatcherImpl::releaseWaiters()
{
    waitersReleased_ = true;
    std::vector<std::uint64_t> ids;
    ids.reserve(waiters_.size());
    for (const auto& [id, w] : waiters_) ids.push_back(id);
    // Answered as if their timeout had passed: event.from gets what arrived
    // and a fresh token, event.next an empty list.
    for (auto id : ids) timeoutWaiter(id);
}

void DispatcherImpl::onSessionRemoved(const std::string& ref)
{
    registrations_.erase(ref);
    std::vector<std::uint64_t> ids;
    for (const auto& [id, w] : waiters_) {
        if (w->sessionRef == ref) ids.push_back(id);
    }
    for (auto id : ids) finishWaiter(id, Outcome::failure({"SESSION_INVALID", ref}));
}

void DispatcherImpl::registerEvents()
{
    using auth::Role;

    // Starts waiting for `waiter` (already filled in) until a change,
    // `timeout`, or the caller's connection closing.
    auto startWait = [self = this](std::shared_ptr<EventWaiter> waiter, std::chrono::milliseconds timeout,
                                   const CallContext& ctx) {
        waiter->id = self->nextWaiter_++;
        self->waiters_.emplace(waiter->id, waiter);
        self->armWaiter(waiter);
        // Once released (daemon stopping), a new wait ends at its first chance.
        waiter->timer.expires_after(self->waitersReleased_ ? std::chrono::milliseconds(0) : timeout);
        waiter->timer.async_wait([life = std::weak_ptr<int>(self->life_), self, id = waiter->id](
                                     const boost::system::error_code& ec) {
            if (ec || life.expired()) return;  // answered already, or dispatcher gone
            self->timeoutWaiter(id);
        });
        // A client that has gone ends its wait now, not at the timeout
        // (up to maxEventTimeout later). Answered as a timeout: the answer
        // goes nowhere, and nothing it would consume (event.next's cursor)
        // moves. Posted, since the transport calls us from inside its read
        // completion (or inline here, if the connection is already closed).
        if (ctx.connection) {
            waiter->connection = ctx.connection;
            waiter->closeWatch = ctx.connection->onClose(
                [io = self->io_, life = std::weak_ptr<int>(self->life_), self, id = waiter->id]() {
                    boost::asio::post(io, [life, self, id]() {
                        if (!life.expired()) self->timeoutWaiter(id);
                    });
                });
        }
    };

    MethodSpec from;
    from.minParams = 4;
    from.maxParams = 4;
    from.run = [self = this, startWait](Invocation& inv) {
        const auto classes = stringSetParam(inv, 1, "classes");
        const std::string& token = stringParam(inv, 2, "token");
        const double timeoutSecs = floatParam(inv, 3, "timeout");
        metrics::ClassFilter filter;
        addSubscriptions(filter, classes);
        auto since = parseToken(token);
        if (!since) fail({"EVENT_FROM_TOKEN_PARSE_FAILURE", token});
        // A token from the future (e.g. from before a daemon restart) cannot
        // be served; the client must resynchronise.
        if (*since > self->store_.generation()) fail({"EVENTS_LOST"});
        auto result = self->store_.changesSince(*since, filter);
        if (result.lost) fail({"EVENTS_LOST"});
        const auto timeout = clampTimeout(timeoutSecs, self->config_.maxEventTimeout);
        if (!result.changes.empty() || timeout.count() == 0) {
            inv.reply(Outcome::ok(self->eventFromResult(result)));
            return;
        }
        auto waiter = std::make_shared<EventWaiter>(self->io_);
        waiter->sessionRef = inv.session->ref;
        waiter->filter = std::move(filter);
        waiter->since = result.generation;
        waiter->reply = inv.reply;
        startWait(std::move(waiter), timeout, inv.ctx);
    };
    add("event.from", std::move(from));

    addSync("event.get_current_id", 1, Role::ReadOnly, [self = this](Invocation&) {
        return Value(static_cast<std::int64_t>(self->store_.generation()));
    });

    addSync("event.inject", 3, Role::ReadOnly, [self = this](Invocation& inv) {
        const std::string& cls = stringParam(inv, 1, "class");
        const std::string& ref = stringParam(inv, 2, "ref");
        auto rec = self->store_.get(ref);
        if (!rec || toLower(metrics::className(metrics::classOf(*rec))) != toLower(cls)) {
            fail({"HANDLE_INVALID", cls, ref});
        }
        self->store_.touch(ref);
        // One before the touch: the next event.from with it reports the object.
        return Value(formatToken(self->store_.generation() - 1));
    });

    addSync("event.register", 2, Role::ReadOnly, [self = this](Invocation& inv) {
        const auto classes = stringSetParam(inv, 1, "classes");
        metrics::ClassFilter added;
        addSubscriptions(added, classes);
        auto [it, inserted] = self->registrations_.try_emplace(inv.session->ref);
        if (inserted) it->second.cursor = self->store_.generation();
        auto& filter = it->second.filter;
        for (std::size_t i = 0; i < filter.classes.size(); ++i) filter.classes[i] = filter.classes[i] || added.classes[i];
        filter.refs.insert(filter.refs.end(), added.refs.begin(), added.refs.end());
        return Value("");
    });

    addSync("event.unregister", 2, Role::ReadOnly, [self = this](Invocation& inv) {
        const auto classes = stringSetParam(inv, 1, "classes");
        auto it = self->registrations_.find(inv.session->ref);
        if (it != self->registrations_.end()) removeSubscriptions(it->second.filter, classes);
        return Value("");
    });

    MethodSpec next;
    next.minParams = 1;
    next.maxParams = 1;
    next.run = [self = this, startWait](Invocation& inv) {
        auto it = self->registrations_.find(inv.session->ref);
        if (it == self->registrations_.end()) fail({"SESSION_NOT_REGISTERED", inv.session->ref});
        auto result = self->store_.changesSince(it->second.cursor, it->second.filter);
        if (result.lost) {
            it->second.cursor = self->store_.generation();
            fail({"EVENTS_LOST"});
        }
        if (!result.changes.empty()) {
            it->second.cursor = result.generation;
            inv.reply(Outcome::ok(self->eventsFromChanges(result.changes, true)));
            return;
        }
        auto waiter = std::make_shared<EventWaiter>(self->io_);
        waiter->legacy = true;
        waiter->sessionRef = inv.session->ref;
        waiter->reply = inv.reply;
        startWait(std::move(waiter), self->config_.maxEventTimeout, inv.ctx);
    };
    add("event.next", std::move(next));
}

}  // namespace xenrdp::xapi_rpc::dispatch
