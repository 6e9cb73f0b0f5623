#include "transport_test_support.hpp"

#include <cstdlib>
#include <stdexcept>

namespace xenrdp::xapi_rpc::transport::test {

TempDir::TempDir() {
  auto pattern = (std::filesystem::temp_directory_path() / "xenrdp-transport-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

bool eventually(const std::function<bool()>& predicate, std::chrono::milliseconds deadline) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (!predicate()) {
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(5ms);  // polling interval, not a wait for an event
  }
  return true;
}

void ScriptedHandler::handle(HttpRequest req, const PeerInfo& peer, Respond respond) {
  requests.push_back(req);
  peers.push_back(peer);
  const std::string target = req.target;
  if (target == "/slow") {
    req.connection->onClose([handler = this] { ++handler->closeNotices; });
    held.emplace_back(std::move(req), std::move(respond));
    return;
  }
  if (target == "/release") {
    heldWhenReleaseArrived = !held.empty();
    respond(HttpResponse{200, {{"Content-Type", "text/plain"}}, "release"});
    // Answer the held requests later, from a timer, as a long-poll would.
    timer_.expires_after(20ms);
    timer_.async_wait([handler = this](boost::system::error_code ec) {
      if (!ec) handler->releaseHeld();
    });
    return;
  }
  if (target == "/throw") throw std::runtime_error("handler failure");
  if (target == "/drop") return;
  if (target == "/no-content") {
    respond(HttpResponse{204, {{"X-Kept", "yes"}}, "a body a 204 must not carry"});
    return;
  }
  if (target == "/framing") {
    // Framing headers of the handler's own, and two fields that are not valid.
    respond(HttpResponse{200,
                         {{"Content-Length", "999"},
                          {"Transfer-Encoding", "chunked"},
                          {"Bad Name", "x"},
                          {"X-Split", "a\r\nInjected: 1"},
                          {"Connection", "keep-alive, close"},
                          {"X-Kept", "yes"}},
                         "framed"});
    return;
  }
  if (target == "/headers") {
    respond(HttpResponse{201,
                         {{"Content-Type", "application/json"}, {"Access-Control-Allow-Origin", "*"}},
                         "{\"ok\":true}"});
    return;
  }
  const auto test = req.header("x-test");
  respond(HttpResponse{200,
                       {{"Content-Type", "text/plain"}},
                       target + "|" + std::string(test.value_or("")) + "|" + req.body});
}

void ScriptedHandler::releaseHeld() {
  auto pending = std::move(held);
  held.clear();
  for (auto& [request, respond] : pending) {
    respond(HttpResponse{200, {{"Content-Type", "text/plain"}}, "released " + request.body});
  }
}

ServerHarness::ServerHarness(ServerLimits limits)
    : handler_(ioc_.get_executor()), server_(ioc_.get_executor(), handler_, limits) {}

void ServerHarness::start() {
  work_.emplace(net::prefer(ioc_.get_executor(), net::execution::outstanding_work.tracked));
  thread_ = std::thread([ioc = &ioc_] { ioc->run(); });
}

ServerHarness::~ServerHarness() {
  if (thread_.joinable()) {
    work_.reset();
    ioc_.stop();
    thread_.join();
  }
}

net::ip::tcp::endpoint loopback(std::uint16_t port) {
  return {net::ip::make_address_v4("127.0.0.1"), port};
}

std::string postRequest(const std::string& target, const std::string& body, const std::string& extraHeaders) {
  return "POST " + target + " HTTP/1.1\r\nHost: test\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n" + extraHeaders + "\r\n" + body;
}

}  // namespace xenrdp::xapi_rpc::transport::test
