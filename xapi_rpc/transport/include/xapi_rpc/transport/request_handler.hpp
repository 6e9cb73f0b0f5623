#pragma once
// The one seam between the HTTP transport and whatever serves requests
// (XenAPI dispatch in xenrdpd). The transport never names a method or a path.

#include <xapi_rpc/transport/http_message.hpp>

#include <memory>
#include <type_traits>
#include <utility>

namespace xenrdp::xapi_rpc::transport {

/// Where one request's answer goes. The transport's own sink is the request's
/// response slot; Respond also wraps plain callables in one (tests, adapters).
class ResponseSink {
public:
  virtual ~ResponseSink() = default;
  virtual void complete(HttpResponse response) = 0;
};

/// Completes one request. Copyable; all copies share one slot, so only the
/// first call sends anything and later calls are no-ops. Calling it after the
/// connection died is a no-op too. Call it on the io executor only. If every
/// copy is destroyed without a call, the transport answers 500 itself.
///
/// A shared pointer to the sink rather than a std::function: copying it costs
/// a reference count, where a std::function would allocate per copy.
class Respond {
public:
  Respond() = default;
  explicit Respond(std::shared_ptr<ResponseSink> sink) noexcept : sink_(std::move(sink)) {}

  /// Wraps a callable taking an HttpResponse. A wrapped callable is called on
  /// every call; the once-only rule above is the transport sink's.
  template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, Respond> &&
                                              std::is_invocable_v<std::decay_t<F>&, HttpResponse>>>
  Respond(F&& fn)  // NOLINT(google-explicit-constructor): lambdas convert, as to std::function
      : sink_(std::make_shared<CallableSink<std::decay_t<F>>>(std::forward<F>(fn))) {}

  /// Sends `response` (a no-op for a default-constructed Respond).
  void operator()(HttpResponse response) const {
    if (sink_) sink_->complete(std::move(response));
  }
  explicit operator bool() const noexcept { return sink_ != nullptr; }

private:
  template <class F>
  class CallableSink final : public ResponseSink {
  public:
    explicit CallableSink(F fn) : fn_(std::move(fn)) {}
    void complete(HttpResponse response) override { fn_(std::move(response)); }

  private:
    F fn_;
  };

  std::shared_ptr<ResponseSink> sink_;
};

/// Serves the requests of every connection of an HttpServer.
/// Ownership: the server holds a reference; the handler must outlive it.
class RequestHandler {
public:
  virtual ~RequestHandler() = default;

  /// Called on the io executor, once per request; the connection reads no
  /// further request until `respond` has been called, but other connections go
  /// on meanwhile. Must not block. May answer later (a long-poll), and may
  /// watch `req.connection` to learn that the client went away. An exception
  /// thrown from here is caught and turned into a 500 response.
  virtual void handle(HttpRequest req, const PeerInfo& peer, Respond respond) = 0;
};

}  // namespace xenrdp::xapi_rpc::transport
