#pragma once
// Private: one HTTP/1.1 connection, templated over its stream type
// (tcp::socket, ssl::stream<tcp::socket>, local::stream_protocol::socket).
//
// Life of a connection (all on the one io thread):
//   [TLS handshake] -> Idle (wait for a first byte) -> Reading (parse one
//   request) -> Handling (the RequestHandler has it) -> Writing -> Idle ...
// Timeouts come from one steady_timer: readTimeout for the handshake, the
// first request, a request once started and a response being written;
// idleTimeout between kept-alive requests; none while the handler works.
// While the handler works a one-shot read stays pending, so a vanished client
// is noticed (ConnectionStatus) and pipelined bytes are kept in the buffer.
// Asio allows one read and one write in flight at once on all three streams.

#include "server_core.hpp"

#include <xapi_rpc/transport/log_text.hpp>

#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <spdlog/logger.h>

#include <array>
#include <memory>
#include <optional>
#include <string_view>
#include <type_traits>

namespace xenrdp::xapi_rpc::transport {

namespace net = boost::asio;
namespace http = boost::beast::http;

template <class Stream>
struct IsTlsStream : std::false_type {};
template <class Next>
struct IsTlsStream<net::ssl::stream<Next>> : std::true_type {};

/// Builds the transport's own short error answers (400, 413, 431, 500, 503).
HttpResponse plainResponse(unsigned status, std::string_view text);

/// Writes the status line and header block for a handler's response into
/// `head` (cleared first; its capacity is reused) and moves the body into
/// `body`: the handler's headers in order, less framing headers and invalid
/// fields, then Connection when the default for `version` does not apply and
/// Content-Length. Sets `keepAlive` false if the handler asked to close.
/// The bytes are what Beast's serializer wrote for the same message; the
/// transport formats them itself because the serializer's buffer sequence
/// and per-field allocations were a measurable share of a small call.
void formatResponse(std::string& head, std::string& body, HttpResponse in, unsigned version,
                    bool& keepAlive, spdlog::logger* log);

/// Shared by every copy of one request's Respond: the first call wins; if
/// none happens, the last copy's destruction answers 500.
class ResponseSlot final : public ResponseSink {
public:
  ResponseSlot(std::shared_ptr<SessionBase> session, std::uint64_t seq)
      : session_(std::move(session)), seq_(seq) {}
  ResponseSlot(const ResponseSlot&) = delete;
  ResponseSlot& operator=(const ResponseSlot&) = delete;
  ~ResponseSlot() override;

  void complete(HttpResponse response) override;

private:
  std::shared_ptr<SessionBase> session_;
  std::uint64_t seq_;
  bool done_ = false;
};

template <class Stream>
class Session final : public SessionBase, public std::enable_shared_from_this<Session<Stream>> {
public:
  Session(std::shared_ptr<ServerCore> core, Stream stream, PeerInfo peer, bool admitted)
      : core_(std::move(core)),
        stream_(std::move(stream)),
        peer_(std::move(peer)),
        timer_(core_->executor()),
        admitted_(admitted),
        status_(std::make_shared<ConnectionStatus>()) {}

  void start() {
    id_ = core_->registerSession(this->shared_from_this(), admitted_);
    if constexpr (IsTlsStream<Stream>::value) {
      phase_ = Phase::Handshake;
      arm(requestTimeout());
      stream_.async_handshake(net::ssl::stream_base::server,
                              [self = this->shared_from_this()](boost::system::error_code ec) {
                                self->onHandshake(ec);
                              });
    } else {
      waitForRequest(requestTimeout());
    }
  }

  void beginStop() override {
    stopRequested_ = true;
    // Requests being read or handled are allowed to finish (bounded by the
    // server's drain timer); a connection with nothing in flight goes now.
    if (phase_ == Phase::Idle || phase_ == Phase::Handshake) closeSocket();
  }

  void closeNow() override { closeSocket(); }

  net::any_io_executor executor() override { return core_->executor(); }

  void deliver(std::uint64_t seq, HttpResponse response) override {
    if (seq != requestSeq_ || phase_ != Phase::Handling) return;  // stale or closed
    if (stopRequested_ || peerGone_) keepAlive_ = false;
    formatResponse(head_, body_, std::move(response), version_, keepAlive_, core_->log());
    core_->noteResponse(body_.size());
    writeResponse();
  }

private:
  enum class Phase { Handshake, Idle, Reading, Handling, Writing, Closing, Closed };

  std::chrono::milliseconds requestTimeout() const {
    // A refused connection gets a short leash: it only earns a 503.
    const auto& limits = core_->limits();
    return admitted_ ? limits.readTimeout : std::min(limits.readTimeout, limits.lingerTimeout);
  }

  void onHandshake(boost::system::error_code ec) {
    if (phase_ == Phase::Closed) return;
    if (ec) {
      if (auto* log = core_->log()) log->debug("HTTP_TLS_HANDSHAKE_FAILED peer={} err={}", peer_.address, ec.message());
      closeSocket();
      return;
    }
    waitForRequest(requestTimeout());
  }

  // Idle: wait for the first byte of the next request (or use bytes a client
  // pipelined while the previous request was being handled).
  void waitForRequest(std::chrono::milliseconds timeout) {
    if (stopRequested_) {
      closeSocket();
      return;
    }
    if (buffer_.size() > 0) {
      readRequest();
      return;
    }
    phase_ = Phase::Idle;
    arm(timeout);
    startWatchRead();  // or keep the one still pending from the busy phase
  }

  // One small read that doubles as "wait for the next request" (Idle) and as
  // "is the client still there" (Handling/Writing).
  //
  // Invariant: a watch read is only pending while buffer_ is empty. So when
  // the response is written, either bytes are buffered (parse them, no read
  // in flight) or the pending watch read serves as the idle wait; a second
  // reader never runs beside it and the read need never be cancelled. The
  // price: once a client pipelines, its vanishing is noticed only at write.
  void startWatchRead() {
    if (buffer_.size() > 0 || readPending_) return;
    readPending_ = true;
    stream_.async_read_some(buffer_.prepare(kWatchChunk),
                            [self = this->shared_from_this()](boost::system::error_code ec, std::size_t n) {
                              self->onWatchRead(ec, n);
                            });
  }

  void onWatchRead(boost::system::error_code ec, std::size_t n) {
    readPending_ = false;
    if (phase_ == Phase::Closed) return;
    if (phase_ == Phase::Closing) {
      // The response is out; this read only waits for the client to go.
      if (ec) {
        closeSocket();
      } else if constexpr (!IsTlsStream<Stream>::value) {
        drain();
      }
      // TLS: keep waiting; the linger timer bounds it.
      return;
    }
    if (ec) {
      const bool busy = phase_ == Phase::Handling || phase_ == Phase::Writing;
      if (busy && isCleanEof(ec)) {
        // The client closed (or half-closed) while we work: tell the handler,
        // but keep the socket so an answer can still be written.
        peerGone_ = true;
        status_->markClosed();
        return;
      }
      closeSocket();
      return;
    }
    buffer_.commit(n);
    // Idle: a request begins. Busy: the client pipelined; keep the bytes for
    // after the response.
    if (phase_ == Phase::Idle) readRequest();
  }

  void readRequest() {
    phase_ = Phase::Reading;
    parser_.emplace();
    parser_->body_limit(core_->limits().maxBodyBytes);
    parser_->header_limit(core_->limits().maxHeaderBytes);
    // Most requests arrive whole in the first read: parse what is buffered
    // here and dispatch at once, which spares the asynchronous reads (two
    // trips through the io_context) and the request timer.
    if (const auto ec = parseBuffered(); ec || parser_->is_done()) {
      onRead(ec);  // an error goes on to onReadError
      return;
    }
    arm(requestTimeout());
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = this->shared_from_this()](boost::system::error_code ec, std::size_t) {
                              self->onReadHeader(ec);
                            });
  }

  // Feeds the buffered bytes to the parser, as Beast's read operations do
  // before they read from the socket. An error is one of the parser's own
  // (limits, malformed HTTP); running out of bytes is not an error.
  boost::system::error_code parseBuffered() {
    parser_->eager(true);
    boost::system::error_code ec;
    while (buffer_.size() > 0 && !parser_->is_done()) {
      const std::size_t used = parser_->put(buffer_.data(), ec);
      buffer_.consume(used);
      if (ec == http::error::need_more) return {};
      if (ec || used == 0) return ec;
    }
    return ec;
  }

  void onReadHeader(boost::system::error_code ec) {
    if (phase_ == Phase::Closed) return;
    if (ec) {
      onReadError(ec);
      return;
    }
    const auto& msg = parser_->get();
    const auto expect = msg[http::field::expect];
    if (admitted_ && msg.version() >= 11 && !parser_->is_done() &&
        equalsIgnoreCase(std::string_view(expect.data(), expect.size()), "100-continue")) {
      // Clients such as .NET's HttpWebRequest wait for this before the body.
      net::async_write(stream_, net::buffer(kContinue),
                       [self = this->shared_from_this()](boost::system::error_code wec, std::size_t) {
                         if (wec) {
                           self->closeSocket();
                           return;
                         }
                         self->readBody();
                       });
      return;
    }
    readBody();
  }

  void readBody() {
    if (phase_ == Phase::Closed) return;
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](boost::system::error_code ec, std::size_t) {
                       self->onRead(ec);
                     });
  }

  void onRead(boost::system::error_code ec) {
    if (phase_ == Phase::Closed) return;
    if (ec) {
      onReadError(ec);
      return;
    }
    cancelTimer();  // no timeout while the handler works
    dispatchRequest();
  }

  void onReadError(boost::system::error_code ec) {
    if (ec == http::error::end_of_stream || ec == http::error::partial_message ||
        ec.category() != http::make_error_code(http::error::bad_method).category()) {
      // Closed between or in the middle of requests, or a socket error.
      closeSocket();
      return;
    }
    if (auto* log = core_->log()) log->info("HTTP_BAD_REQUEST peer={} err={}", peer_.address, ec.message());
    if (ec == http::error::body_limit) {
      sendErrorAndClose(plainResponse(413, "Payload Too Large"));
    } else if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
      sendErrorAndClose(plainResponse(431, "Request Header Fields Too Large"));
    } else {
      sendErrorAndClose(plainResponse(400, "Bad Request"));
    }
  }

  void dispatchRequest() {
    auto msg = parser_->release();
    parser_.reset();
    version_ = msg.version() == 10 ? 10 : 11;
    keepAlive_ = msg.keep_alive();
    if (!admitted_) {
      sendErrorAndClose(plainResponse(503, "Service Unavailable"));
      return;
    }
    HttpRequest req;
    req.method = toString(msg.method_string());
    req.target = toString(msg.target());
    req.version = version_;
    req.keepAlive = keepAlive_;
    for (const auto& field : msg) {
      req.headers.emplace_back(toString(field.name_string()), toString(field.value()));
    }
    req.body = std::move(msg.body());
    req.connection = status_;

    phase_ = Phase::Handling;
    const auto seq = ++requestSeq_;
    ++core_->counters().requestsTotal;
    auto slot = std::make_shared<ResponseSlot>(this->shared_from_this(), seq);
    try {
      core_->handler().handle(std::move(req), peer_, Respond(slot));
    } catch (const std::exception& e) {
      if (auto* log = core_->log()) log->error("HTTP_HANDLER_EXCEPTION peer={} what={}", peer_.address,
                                                   logText(e.what(), kLogMessageMaxBytes));
      slot->complete(plainResponse(500, "Internal Server Error"));
    } catch (...) {
      if (auto* log = core_->log()) log->error("HTTP_HANDLER_EXCEPTION peer={} what=unknown", peer_.address);
      slot->complete(plainResponse(500, "Internal Server Error"));
    }
    slot.reset();  // if the handler kept no copy, this answers 500 (posted)
    if ((phase_ == Phase::Handling || phase_ == Phase::Writing) && !peerGone_) startWatchRead();
  }

  void sendErrorAndClose(HttpResponse response) {
    keepAlive_ = false;
    formatResponse(head_, body_, std::move(response), version_, keepAlive_, core_->log());
    writeResponse();
  }

  void writeResponse() {
    phase_ = Phase::Writing;
    arm(core_->limits().readTimeout);  // a client that never reads must not pin us
    const std::array<net::const_buffer, 2> buffers{net::buffer(head_), net::buffer(body_)};
    net::async_write(stream_, buffers,
                     [self = this->shared_from_this()](boost::system::error_code ec, std::size_t) {
                       self->onWrite(ec);
                     });
  }

  void onWrite(boost::system::error_code ec) {
    if (phase_ == Phase::Closed) return;
    head_.clear();   // a few hundred bytes, kept for the next response
    body_ = std::string();
    if (ec) {
      closeSocket();
      return;
    }
    if (!keepAlive_ || peerGone_ || stopRequested_) {
      gracefulClose();
      return;
    }
    waitForRequest(core_->limits().idleTimeout);
  }

  // Polite close: TLS close_notify, or FIN then drain what the client still
  // sends (closing with unread input would reset the connection and could
  // destroy our last response before the client reads it). Bounded by linger.
  void gracefulClose() {
    phase_ = Phase::Closing;
    arm(core_->limits().lingerTimeout);
    if constexpr (IsTlsStream<Stream>::value) {
      // With a watch read in flight, let it see the client's close instead of
      // running a second reader (shutdown) beside it.
      if (readPending_) return;
      stream_.async_shutdown([self = this->shared_from_this()](boost::system::error_code) {
        self->closeSocket();
      });
    } else {
      boost::system::error_code ignored;
      stream_.shutdown(net::socket_base::shutdown_send, ignored);
      if (!readPending_) drain();
    }
  }

  void drain() {
    readPending_ = true;
    buffer_.clear();
    stream_.async_read_some(buffer_.prepare(kWatchChunk),
                            [self = this->shared_from_this()](boost::system::error_code ec, std::size_t) {
                              self->readPending_ = false;
                              if (ec || self->phase_ != Phase::Closing) {
                                self->closeSocket();
                                return;
                              }
                              self->drain();
                            });
  }

  static std::string toString(boost::beast::string_view view) { return {view.data(), view.size()}; }

  static bool isCleanEof(const boost::system::error_code& ec) {
    return ec == net::error::eof || ec == net::ssl::error::stream_truncated;
  }

  void arm(std::chrono::milliseconds timeout) {
    const auto generation = ++timerGeneration_;
    timer_.expires_after(timeout);
    timer_.async_wait([self = this->shared_from_this(), generation](boost::system::error_code ec) {
      if (ec || generation != self->timerGeneration_ || self->phase_ == Phase::Closed) return;
      if (auto* log = self->core_->log()) {
        log->debug("HTTP_TIMEOUT peer={} phase={}", self->peer_.address, static_cast<int>(self->phase_));
      }
      self->closeSocket();
    });
  }

  void cancelTimer() {
    ++timerGeneration_;
    timer_.cancel();
  }

  void closeSocket() {
    if (phase_ == Phase::Closed) return;
    phase_ = Phase::Closed;
    cancelTimer();
    boost::system::error_code ignored;
    stream_.lowest_layer().close(ignored);  // fails every pending operation
    status_->markClosed();
    core_->unregisterSession(id_, admitted_);
  }

  static constexpr std::size_t kWatchChunk = 4096;
  static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

  std::shared_ptr<ServerCore> core_;
  Stream stream_;
  PeerInfo peer_;
  net::steady_timer timer_;
  bool admitted_;
  std::shared_ptr<ConnectionStatus> status_;
  boost::beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::string head_;  // status line and headers of the response being written
  std::string body_;
  Phase phase_ = Phase::Idle;
  std::uint64_t id_ = 0;
  std::uint64_t timerGeneration_ = 0;
  std::uint64_t requestSeq_ = 0;
  unsigned version_ = 11;
  bool keepAlive_ = true;
  bool readPending_ = false;
  bool peerGone_ = false;
  bool stopRequested_ = false;
};

}  // namespace xenrdp::xapi_rpc::transport
