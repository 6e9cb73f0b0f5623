#pragma once
/// WatchDispatcher: delivers libxenstore watch events on an Asio executor.
///
/// It waits on the handle's xs_fileno() pipe with
/// posix::stream_descriptor::async_wait(wait_read), then drains the queue
/// with XsApi::checkWatch() until it reports EAGAIN and calls the handler
/// registered for each event's token (a hash map: O(1) per event).  Events
/// with an unknown token (e.g. a watch removed while its event was queued)
/// are dropped.
///
/// libxenstore owns the fd.  The dispatcher never reads or closes it: the
/// pipe holds one byte exactly while libxenstore's event queue is non-empty,
/// and libxenstore reads that byte back itself when the queue empties.  Asio
/// switches the fd to O_NONBLOCK; that is harmless only because of this
/// invariant (STYLE.md Appendix §3.2, §3.4).  detach() cancels the wait and
/// release()s the fd, never closing it.
///
/// A dead handle never makes the fd readable, so loss of xenstored is seen
/// here only if checkWatch() fails with an errno other than EAGAIN (EINVAL
/// on a dead handle): then the wait is not re-armed and `onLost` runs.
///
/// Threading: every member function, handler and `onLost` runs on the
/// executor given to the constructor (the io thread).  Handlers may add or
/// remove watches, or destroy the dispatcher's owner's guards, while running.
/// A handler that throws is logged and ignored.
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>

#include <boost/asio/any_io_executor.hpp>

namespace spdlog {
class logger;
}

namespace xenrdp::xenstore {

class XsApi;

/// Called with the path that fired; see Connection::watch for semantics.
using WatchHandler = std::function<void(std::string_view path)>;

class WatchDispatcher {
public:
    using LostHandler = std::function<void(std::error_code)>;
    /// Finds the handler of a token that add() did not register; null if
    /// none.  The pointer is used at once (the handler is copied, then run).
    using Resolver = std::function<const WatchHandler*(std::string_view token)>;

    /// `logger` null means no logging.  Never throws except std::bad_alloc.
    WatchDispatcher(boost::asio::any_io_executor io, LostHandler onLost,
                    std::shared_ptr<spdlog::logger> logger = {});
    WatchDispatcher(const WatchDispatcher&) = delete;
    WatchDispatcher& operator=(const WatchDispatcher&) = delete;
    /// Detaches (no handler runs after destruction).
    ~WatchDispatcher();

    /// Registers `handler` for `token` (replacing any previous one).
    void add(std::string token, WatchHandler handler);
    /// Unregisters `token`; no event for it is dispatched afterwards, even
    /// one already queued.  Returns false if it was unknown.
    bool remove(const std::string& token);
    std::size_t size() const noexcept;
    /// Drops every handler (e.g. at shutdown, to release what they capture).
    void clear() noexcept;
    /// Consulted for tokens add() does not know.  Lets an owner that keeps
    /// its own table of watches (Connection) hold each handler once.
    void setResolver(Resolver resolver);

    /// Starts waiting on `api.fileno()`.  `api` is not owned and must stay
    /// open until detach().  Attaching again detaches first.  Failure to wrap
    /// the fd is reported through `onLost`.
    void attach(XsApi& api);
    /// Cancels the wait and releases the fd (libxenstore keeps it).  No
    /// checkWatch() call is made on the old handle afterwards.
    void detach() noexcept;
    bool attached() const noexcept;

    /// Events dispatched so far (for tests and statistics).
    std::size_t dispatched() const noexcept;

private:
    class Impl;
    std::shared_ptr<Impl> impl_;
};

}  // namespace xenrdp::xenstore
