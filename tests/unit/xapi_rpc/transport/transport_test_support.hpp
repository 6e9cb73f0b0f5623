#pragma once
// Test support for the transport tests: a server running on its own io
// thread, a scripted RequestHandler, and blocking-with-deadline clients that
// run their own io_context on the test thread.

#include <xapi_rpc/transport/http_server.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/execution.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace xenrdp::xapi_rpc::transport::test {

namespace net = boost::asio;
namespace http = boost::beast::http;
using namespace std::chrono_literals;

constexpr auto kDeadline = std::chrono::seconds(10);

/// A private temporary directory, removed with everything in it.
class TempDir {
public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

private:
  std::filesystem::path path_;
};

/// Polls `predicate` until it holds or the deadline passes.
bool eventually(const std::function<bool()>& predicate, std::chrono::milliseconds deadline = kDeadline);

/// A handler whose behaviour depends on the target:
///   /slow     held until released (see /release) or answered by the test
///   /release  answered at once; a timer then answers every held request
///   /throw    throws
///   /drop     returns without keeping `respond`
///   /headers  answers with handler-chosen headers (exact-header checks)
///   anything  echoes "target|X-Test header|body"
/// Runs on the server's io thread; read its state through ServerHarness::onIo.
class ScriptedHandler final : public RequestHandler {
public:
  explicit ScriptedHandler(net::any_io_executor executor) : timer_(std::move(executor)) {}
  void handle(HttpRequest req, const PeerInfo& peer, Respond respond) override;
  void releaseHeld();

  std::vector<HttpRequest> requests;
  std::vector<PeerInfo> peers;
  std::vector<std::pair<HttpRequest, Respond>> held;
  int closeNotices = 0;
  bool heldWhenReleaseArrived = false;

private:
  net::steady_timer timer_;
};

/// HttpServer on its own io thread. Listen before start(); afterwards touch
/// the server only through onIo().
class ServerHarness {
public:
  explicit ServerHarness(ServerLimits limits = {});
  ~ServerHarness();
  ServerHarness(const ServerHarness&) = delete;
  ServerHarness& operator=(const ServerHarness&) = delete;

  void start();
  /// Runs `fn` on the io thread and returns its result (fails after a deadline).
  template <class F>
  auto onIo(F fn) -> std::invoke_result_t<F&> {
    using Result = std::invoke_result_t<F&>;
    auto task = std::make_shared<std::packaged_task<Result()>>(std::move(fn));
    auto future = task->get_future();
    net::post(ioc_, [task] { (*task)(); });
    if (future.wait_for(kDeadline) != std::future_status::ready) throw std::runtime_error("io thread stuck");
    return future.get();
  }

  net::io_context& ioc() { return ioc_; }
  ScriptedHandler& handler() { return handler_; }
  HttpServer& server() { return server_; }
  ServerCounters counters() {
    return onIo([server = &server_] { return server->counters(); });
  }

private:
  net::io_context ioc_;
  std::optional<net::any_io_executor> work_;  // keeps run() going while idle
  ScriptedHandler handler_;
  HttpServer server_;
  std::thread thread_;
};

/// One client connection, run on its own io_context from the test thread;
/// every call returns within kDeadline.
template <class Stream>
class Client {
public:
  template <class... Args>
  explicit Client(Args&&... args) : stream_(ioc_, std::forward<Args>(args)...) {}

  template <class Endpoint>
  bool connect(const Endpoint& endpoint) {
    bool done = false;
    boost::system::error_code result;
    stream_.lowest_layer().async_connect(endpoint, [&done, &result](boost::system::error_code ec) {
      result = ec;
      done = true;
    });
    return runUntil(done) && !result;
  }

  bool handshake() {
    bool done = false;
    boost::system::error_code result;
    stream_.async_handshake(net::ssl::stream_base::client, [&done, &result](boost::system::error_code ec) {
      result = ec;
      done = true;
    });
    return runUntil(done) && !result;
  }

  bool write(std::string data) {
    pending_ = std::move(data);
    bool done = false;
    boost::system::error_code result;
    net::async_write(stream_, net::buffer(pending_),
                     [&done, &result](boost::system::error_code ec, std::size_t) {
                       result = ec;
                       done = true;
                     });
    return runUntil(done) && !result;
  }

  /// The next response (a 1xx counts as one), or nothing on error/deadline.
  std::optional<http::response<http::string_body>> read() {
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    bool done = false;
    boost::system::error_code result;
    http::async_read(stream_, buffer_, parser, [&done, &result](boost::system::error_code ec, std::size_t) {
      result = ec;
      done = true;
    });
    if (!runUntil(done) || result) return std::nullopt;
    return parser.release();
  }

  std::optional<http::response<http::string_body>> request(std::string raw) {
    if (!write(std::move(raw))) return std::nullopt;
    return read();
  }

  /// True once the server closed the connection (EOF, reset or TLS
  /// truncation) within the deadline; bytes received meanwhile are ignored.
  bool waitClosed(std::chrono::milliseconds deadline = kDeadline) {
    const auto until = std::chrono::steady_clock::now() + deadline;
    for (;;) {
      bool done = false;
      boost::system::error_code result;
      std::array<char, 1024> scratch{};
      stream_.async_read_some(net::buffer(scratch), [&done, &result](boost::system::error_code ec, std::size_t) {
        result = ec;
        done = true;
      });
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
      if (!runUntil(done, left)) return false;
      if (result) return true;
    }
  }

  void close() {
    boost::system::error_code ignored;
    stream_.lowest_layer().close(ignored);
  }

  Stream& stream() { return stream_; }

private:
  bool runUntil(bool& done, std::chrono::milliseconds deadline = kDeadline) {
    const auto until = std::chrono::steady_clock::now() + deadline;
    ioc_.restart();
    while (!done && std::chrono::steady_clock::now() < until) ioc_.run_one_until(until);
    if (!done) {
      // Give up: cancel the operation so its handler (which points at this
      // frame's locals) runs now, not later.
      boost::system::error_code ignored;
      stream_.lowest_layer().cancel(ignored);
      ioc_.restart();
      while (!done) ioc_.run_one();
      return false;
    }
    return true;
  }

  net::io_context ioc_;
  Stream stream_;
  boost::beast::flat_buffer buffer_;
  std::string pending_;
};

using TcpClient = Client<net::ip::tcp::socket>;
using UnixClient = Client<net::local::stream_protocol::socket>;
using TlsClient = Client<net::ssl::stream<net::ip::tcp::socket>>;

/// Endpoint of a loopback TCP port.
net::ip::tcp::endpoint loopback(std::uint16_t port);

/// A "POST target" request with an optional body and extra header lines
/// (each ending in \r\n).
std::string postRequest(const std::string& target, const std::string& body = {},
                        const std::string& extraHeaders = {});

}  // namespace xenrdp::xapi_rpc::transport::test
