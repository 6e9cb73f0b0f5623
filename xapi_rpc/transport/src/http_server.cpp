#include <xapi_rpc/transport/http_server.hpp>

#include "server_core.hpp"
#include "session.hpp"
#include "tls_context.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/http/status.hpp>
#include <spdlog/logger.h>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <iterator>

namespace xenrdp::xapi_rpc::transport {

namespace {

using tcp = net::ip::tcp;
using unix_stream = net::local::stream_protocol;

/// A refused connection costs a session until it got its 503; cap how many.
constexpr std::size_t kMaxRefusing = 64;

bool isTokenChar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool validFieldName(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!isTokenChar(c)) return false;
  }
  return true;
}

bool validFieldValue(std::string_view value) {
  return value.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

bool containsCloseToken(std::string_view value) {
  // "Connection" is a comma-separated token list.
  std::size_t start = 0;
  while (start <= value.size()) {
    auto end = value.find(',', start);
    if (end == std::string_view::npos) end = value.size();
    auto token = value.substr(start, end - start);
    while (!token.empty() && (token.front() == ' ' || token.front() == '\t')) token.remove_prefix(1);
    while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.remove_suffix(1);
    if (equalsIgnoreCase(token, "close")) return true;
    start = end + 1;
  }
  return false;
}

std::string endpointText(const tcp::endpoint& endpoint) {
  const auto address = endpoint.address();
  const auto text = address.to_string();
  return (address.is_v6() ? "[" + text + "]" : text) + ":" + std::to_string(endpoint.port());
}

/// Accept loop for one listening socket of protocol `Protocol`.
template <class Protocol>
class Listener final : public ListenerBase, public std::enable_shared_from_this<Listener<Protocol>> {
public:
  using Acceptor = typename Protocol::acceptor;
  using Socket = typename Protocol::socket;
  using Spawn = std::function<void(ServerCore&, Socket)>;

  Listener(const std::shared_ptr<ServerCore>& core, Acceptor acceptor, Spawn spawn)
      : core_(core), acceptor_(std::move(acceptor)), retryTimer_(core->executor()), spawn_(std::move(spawn)) {}

  void start() { doAccept(); }

  void close() override {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    retryTimer_.cancel();
  }

private:
  void doAccept() {
    acceptor_.async_accept([self = this->shared_from_this()](boost::system::error_code ec, Socket socket) {
      self->onAccept(ec, std::move(socket));
    });
  }

  void onAccept(boost::system::error_code ec, Socket socket) {
    if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
    auto core = core_.lock();
    if (!core) return;
    if (ec) {
      // EMFILE and friends: back off briefly instead of spinning on accept.
      if (auto* log = core->log()) log->warn("HTTP_ACCEPT_ERROR err={}", ec.message());
      retryTimer_.expires_after(std::chrono::milliseconds(100));
      retryTimer_.async_wait([self = this->shared_from_this()](boost::system::error_code wec) {
        if (!wec && self->acceptor_.is_open()) self->doAccept();
      });
      return;
    }
    try {
      spawn_(*core, std::move(socket));
    } catch (const std::exception& e) {  // e.g. SSL_new failing: drop this one connection
      if (auto* log = core->log()) log->error("HTTP_SESSION_START_FAILED what={}", e.what());
    }
    doAccept();
  }

  std::weak_ptr<ServerCore> core_;
  Acceptor acceptor_;
  net::steady_timer retryTimer_;
  Spawn spawn_;
};

template <class Stream>
void startSession(ServerCore& core, Stream stream, PeerInfo peer) {
  const auto admission = core.admit();
  if (admission == ServerCore::Admission::Drop) return;  // `stream` closes here
  auto session = std::make_shared<Session<Stream>>(core.shared_from_this(), std::move(stream), std::move(peer),
                                                   admission == ServerCore::Admission::Serve);
  session->start();
}

}  // namespace

// ---- helpers declared in session.hpp ----

HttpResponse plainResponse(unsigned status, std::string_view text) {
  HttpResponse response;
  response.status = status;
  response.headers.emplace_back("Content-Type", "text/plain");
  response.body = std::string(text) + "\n";
  return response;
}

void formatResponse(std::string& head, std::string& body, HttpResponse in, unsigned version, bool& keepAlive,
                    spdlog::logger* log) {
  if (in.status < 200 || in.status > 599) {
    if (log) log->error("HTTP_BAD_HANDLER_STATUS status={}", in.status);
    in = plainResponse(500, "Internal Server Error");
  }
  const bool bodiless = in.status == 204 || in.status == 304;
  if (bodiless) in.body.clear();

  head.clear();
  head.append(version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ");
  char digits[3] = {static_cast<char>('0' + in.status / 100), static_cast<char>('0' + in.status / 10 % 10),
                    static_cast<char>('0' + in.status % 10)};
  head.append(digits, 3);
  head.push_back(' ');
  const auto reason = http::obsolete_reason(http::int_to_status(in.status));
  head.append(reason.data(), reason.size());
  head.append("\r\n");
  for (const auto& [name, value] : in.headers) {
    if (!validFieldName(name) || !validFieldValue(value)) {
      if (log) log->error("HTTP_BAD_HANDLER_HEADER name={}", name);
      continue;
    }
    if (equalsIgnoreCase(name, "Content-Length") || equalsIgnoreCase(name, "Transfer-Encoding")) continue;
    if (equalsIgnoreCase(name, "Connection")) {
      if (containsCloseToken(value)) keepAlive = false;
      continue;
    }
    head.append(name).append(": ").append(value).append("\r\n");
  }
  // HTTP/1.1 keeps a connection open unless told, HTTP/1.0 closes it.
  if (version == 10 && keepAlive) head.append("Connection: keep-alive\r\n");
  if (version != 10 && !keepAlive) head.append("Connection: close\r\n");
  if (!bodiless) {
    char length[24];
    const auto written = std::to_chars(std::begin(length), std::end(length), in.body.size());
    head.append("Content-Length: ").append(length, written.ptr).append("\r\n");
  }
  head.append("\r\n");
  body = std::move(in.body);
}

ResponseSlot::~ResponseSlot() {
  if (done_) return;
  // Every copy of Respond was dropped unanswered: answer 500 rather than leave
  // the client hanging. Posted, because this may run inside handler code or
  // while the io_context is being torn down (then the post is simply dropped).
  try {
    net::post(session_->executor(), [session = session_, seq = seq_]() {
      session->deliver(seq, plainResponse(500, "Internal Server Error"));
    });
  } catch (...) {  // allocation failure: the connection's timers still end it
  }
}

void ResponseSlot::complete(HttpResponse response) {
  if (done_) return;
  done_ = true;
  session_->deliver(seq_, std::move(response));
}

// ---- ServerCore ----

ServerCore::ServerCore(net::any_io_executor executor, RequestHandler& handler, ServerLimits limits,
                       std::shared_ptr<spdlog::logger> logger)
    : executor_(std::move(executor)),
      handler_(handler),
      limits_(limits),
      logger_(std::move(logger)),
      drainTimer_(executor_) {}

void ServerCore::addListener(std::shared_ptr<ListenerBase> listener) { listeners_.push_back(std::move(listener)); }

ServerCore::Admission ServerCore::admit() {
  ++counters_.acceptedTotal;
  if (stopping_) return Admission::Drop;
  if (counters_.openConnections < limits_.maxConnections) return Admission::Serve;
  ++counters_.rejectedTotal;
  if (logger_) logger_->debug("HTTP_CONNECTION_LIMIT open={}", counters_.openConnections);
  return rejecting_ < kMaxRefusing ? Admission::Refuse : Admission::Drop;
}

std::uint64_t ServerCore::registerSession(const std::shared_ptr<SessionBase>& session, bool admitted) {
  const auto id = nextId_++;
  sessions_.emplace(id, session);
  if (admitted) {
    ++counters_.openConnections;
  } else {
    ++rejecting_;
  }
  return id;
}

void ServerCore::unregisterSession(std::uint64_t id, bool admitted) {
  if (sessions_.erase(id) == 0) return;
  if (admitted) {
    --counters_.openConnections;
  } else {
    --rejecting_;
  }
  checkDrained();
}

void ServerCore::stop(std::chrono::milliseconds drainBound, std::function<void()> onDrained) {
  if (stopping_) return;
  stopping_ = true;
  onDrained_ = std::move(onDrained);
  closeListeners();
  std::vector<std::weak_ptr<SessionBase>> sessions;
  sessions.reserve(sessions_.size());
  for (const auto& entry : sessions_) sessions.push_back(entry.second);
  for (const auto& weak : sessions) {
    if (auto session = weak.lock()) session->beginStop();
  }
  if (sessions_.empty()) {
    checkDrained();
    return;
  }
  // Whatever is still busy after the bound is cut off.
  drainTimer_.expires_after(drainBound);
  drainTimer_.async_wait([weakCore = weak_from_this()](boost::system::error_code ec) {
    if (ec) return;
    if (auto core = weakCore.lock()) core->closeAll();
  });
}

void ServerCore::shutdown() {
  stopping_ = true;
  onDrained_ = nullptr;
  closeListeners();
  closeAll();
  drainTimer_.cancel();
}

void ServerCore::closeAll() {
  std::vector<std::weak_ptr<SessionBase>> sessions;
  sessions.reserve(sessions_.size());
  for (const auto& entry : sessions_) sessions.push_back(entry.second);
  for (const auto& weak : sessions) {
    if (auto session = weak.lock()) session->closeNow();
  }
}

void ServerCore::closeListeners() {
  for (const auto& listener : listeners_) listener->close();
  listeners_.clear();
  for (const auto& path : unixPaths_) ::unlink(path.c_str());
  unixPaths_.clear();
}

void ServerCore::checkDrained() {
  if (!stopping_ || !sessions_.empty() || !onDrained_) return;
  drainTimer_.cancel();
  net::post(executor_, std::move(onDrained_));
  onDrained_ = nullptr;
}

// ---- HttpServer ----

HttpServer::HttpServer(net::any_io_executor executor, RequestHandler& handler, ServerLimits limits,
                       std::shared_ptr<spdlog::logger> logger)
    : core_(std::make_shared<ServerCore>(std::move(executor), handler, limits, std::move(logger))) {}

HttpServer::~HttpServer() { core_->shutdown(); }

namespace {

std::optional<tcp::acceptor> openTcpAcceptor(const net::any_io_executor& executor, const std::string& host,
                                             std::uint16_t port, std::error_code& ec) {
  boost::system::error_code bec;
  const auto address = net::ip::make_address(host, bec);
  if (bec) {
    ec = std::make_error_code(std::errc::invalid_argument);
    return std::nullopt;
  }
  const tcp::endpoint endpoint(address, port);
  tcp::acceptor acceptor(executor);
  acceptor.open(endpoint.protocol(), bec);
  if (!bec) acceptor.set_option(net::socket_base::reuse_address(true), bec);
  if (!bec) acceptor.bind(endpoint, bec);
  if (!bec) acceptor.listen(net::socket_base::max_listen_connections, bec);
  if (bec) {
    ec = bec;
    return std::nullopt;
  }
  return acceptor;
}

BoundEndpoint boundOf(const tcp::acceptor& acceptor, std::error_code& ec) {
  boost::system::error_code bec;
  const auto local = acceptor.local_endpoint(bec);
  if (bec) {
    ec = bec;
    return {};
  }
  return {local.address().to_string(), local.port()};
}

}  // namespace

BoundEndpoint HttpServer::listenTcp(const std::string& host, std::uint16_t port, std::error_code& ec) {
  ec.clear();
  if (core_->stopping()) {
    ec = std::make_error_code(std::errc::operation_canceled);
    return {};
  }
  auto acceptor = openTcpAcceptor(core_->executor(), host, port, ec);
  if (!acceptor) return {};
  auto bound = boundOf(*acceptor, ec);
  if (ec) return {};
  auto listener = std::make_shared<Listener<tcp>>(
      core_, std::move(*acceptor), [](ServerCore& core, tcp::socket socket) {
        boost::system::error_code ignored;
        PeerInfo peer{PeerInfo::Kind::Tcp, endpointText(socket.remote_endpoint(ignored)), {}, {}};
        startSession(core, std::move(socket), std::move(peer));
      });
  core_->addListener(listener);
  listener->start();
  if (auto* log = core_->log()) log->info("HTTP_LISTEN kind=tcp address={} port={}", bound.address, bound.port);
  return bound;
}

BoundEndpoint HttpServer::listenTls(const std::string& host, std::uint16_t port, const std::string& certFile,
                                    const std::string& keyFile, std::error_code& ec) {
  ec.clear();
  if (core_->stopping()) {
    ec = std::make_error_code(std::errc::operation_canceled);
    return {};
  }
  auto context = makeServerTlsContext(certFile, keyFile, ec);
  if (!context) return {};
  auto acceptor = openTcpAcceptor(core_->executor(), host, port, ec);
  if (!acceptor) return {};
  auto bound = boundOf(*acceptor, ec);
  if (ec) return {};
  // Each SSL object holds a reference on the SSL_CTX; the listener keeps the
  // asio context (and its settings) for new connections.
  auto listener = std::make_shared<Listener<tcp>>(
      core_, std::move(*acceptor), [context](ServerCore& core, tcp::socket socket) {
        boost::system::error_code ignored;
        PeerInfo peer{PeerInfo::Kind::Tls, endpointText(socket.remote_endpoint(ignored)), {}, {}};
        startSession(core, net::ssl::stream<tcp::socket>(std::move(socket), *context), std::move(peer));
      });
  core_->addListener(listener);
  listener->start();
  if (auto* log = core_->log()) log->info("HTTP_LISTEN kind=tls address={} port={}", bound.address, bound.port);
  return bound;
}

BoundEndpoint HttpServer::listenUnix(const std::string& path, mode_t mode, std::error_code& ec) {
  ec.clear();
  if (core_->stopping()) {
    ec = std::make_error_code(std::errc::operation_canceled);
    return {};
  }
  if (path.empty() || path.size() >= sizeof(sockaddr_un{}.sun_path)) {
    ec = std::make_error_code(std::errc::filename_too_long);
    return {};
  }
  struct stat info {};
  if (::lstat(path.c_str(), &info) == 0) {
    if (!S_ISSOCK(info.st_mode)) {  // never delete someone's regular file
      ec = std::make_error_code(std::errc::file_exists);
      return {};
    }
    if (::unlink(path.c_str()) != 0) {
      ec = std::error_code(errno, std::generic_category());
      return {};
    }
  }
  boost::system::error_code bec;
  unix_stream::acceptor acceptor(core_->executor());
  acceptor.open(unix_stream(), bec);
  if (!bec) acceptor.bind(unix_stream::endpoint(path), bec);
  if (bec) {
    ec = bec;
    return {};
  }
  // chmod before listen(): nobody can connect until listen, so no window with
  // the umask's mode.
  if (::chmod(path.c_str(), mode) != 0) {
    ec = std::error_code(errno, std::generic_category());
    ::unlink(path.c_str());
    return {};
  }
  acceptor.listen(net::socket_base::max_listen_connections, bec);
  if (bec) {
    ec = bec;
    ::unlink(path.c_str());
    return {};
  }
  auto listener = std::make_shared<Listener<unix_stream>>(
      core_, std::move(acceptor), [](ServerCore& core, unix_stream::socket socket) {
        PeerInfo peer{PeerInfo::Kind::Unix, "unix", {}, {}};
        ucred credentials{};
        socklen_t length = sizeof(credentials);
        if (::getsockopt(socket.native_handle(), SOL_SOCKET, SO_PEERCRED, &credentials, &length) == 0 &&
            length == sizeof(credentials)) {
          peer.uid = credentials.uid;
          peer.pid = credentials.pid;
        }
        startSession(core, std::move(socket), std::move(peer));
      });
  core_->addListener(listener);
  core_->addUnixPath(path);
  listener->start();
  if (auto* log = core_->log()) log->info("HTTP_LISTEN kind=unix path={}", path);
  return {path, 0};
}

void HttpServer::stop(std::chrono::milliseconds drainBound, std::function<void()> onDrained) {
  core_->stop(drainBound, std::move(onDrained));
}

ServerCounters HttpServer::counters() const noexcept { return core_->counters(); }

std::error_code checkTlsFiles(const std::string& certFile, const std::string& keyFile) {
  std::error_code ec;
  (void)makeServerTlsContext(certFile, keyFile, ec);
  return ec;
}

void HttpServer::setLimits(const ServerLimits& limits) { core_->setLimits(limits); }

void HttpServer::setResponseObserver(std::function<void(std::size_t bodyBytes)> observer) {
  core_->setResponseObserver(std::move(observer));
}

}  // namespace xenrdp::xapi_rpc::transport
