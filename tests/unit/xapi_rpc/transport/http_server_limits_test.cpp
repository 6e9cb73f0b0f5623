// Limits and timeouts of HttpServer: body and header size, read and idle
// timeouts, the connection cap.
#include "transport_test_support.hpp"

#include <catch2/catch.hpp>

using namespace xenrdp::xapi_rpc::transport;
using namespace xenrdp::xapi_rpc::transport::test;

namespace {

struct TcpServer {
  explicit TcpServer(ServerLimits limits) : harness(limits) {
    std::error_code ec;
    port = harness.server().listenTcp("127.0.0.1", 0, ec).port;
    REQUIRE_FALSE(ec);
    harness.start();
  }
  ServerHarness harness;
  std::uint16_t port = 0;
};

}  // namespace

TEST_CASE("HttpServer answers 413 to a body larger than maxBodyBytes", "[transport]") {
  ServerLimits limits;
  limits.maxBodyBytes = 1024;
  TcpServer server(limits);
  TcpClient client;
  REQUIRE(client.connect(loopback(server.port)));
  auto response = client.request(postRequest("/big", std::string(4096, 'x')));
  REQUIRE(response);
  CHECK(response->result_int() == 413);
  CHECK(client.waitClosed());
  CHECK(server.harness.counters().requestsTotal == 0);
}

TEST_CASE("HttpServer accepts a body of exactly maxBodyBytes", "[transport]") {
  ServerLimits limits;
  limits.maxBodyBytes = 1024;
  TcpServer server(limits);
  TcpClient client;
  REQUIRE(client.connect(loopback(server.port)));
  auto response = client.request(postRequest("/fits", std::string(1024, 'y')));
  REQUIRE(response);
  CHECK(response->result_int() == 200);
}

TEST_CASE("HttpServer answers 431 when the header exceeds maxHeaderBytes", "[transport]") {
  ServerLimits limits;
  limits.maxHeaderBytes = 1024;
  TcpServer server(limits);
  TcpClient client;
  REQUIRE(client.connect(loopback(server.port)));
  auto response = client.request(postRequest("/h", "", "X-Big: " + std::string(4096, 'h') + "\r\n"));
  REQUIRE(response);
  CHECK(response->result_int() == 431);
  CHECK(client.waitClosed());
}

TEST_CASE("HttpServer closes a kept-alive connection after the idle timeout", "[transport]") {
  ServerLimits limits;
  limits.idleTimeout = std::chrono::milliseconds(200);
  TcpServer server(limits);
  TcpClient client;
  REQUIRE(client.connect(loopback(server.port)));
  auto response = client.request(postRequest("/once"));
  REQUIRE(response);
  CHECK(response->keep_alive());
  CHECK(client.waitClosed(std::chrono::seconds(5)));
  CHECK(eventually([&server] { return server.harness.counters().openConnections == 0; }));
}

TEST_CASE("HttpServer drops a client that trickles a request past the read timeout while serving others",
          "[transport]") {
  ServerLimits limits;
  limits.readTimeout = std::chrono::milliseconds(300);
  TcpServer server(limits);
  TcpClient slowloris;
  REQUIRE(slowloris.connect(loopback(server.port)));
  REQUIRE(slowloris.write("POST / HTTP/1.1\r\nHost: t\r\n"));  // and never finishes

  TcpClient other;
  REQUIRE(other.connect(loopback(server.port)));
  auto response = other.request(postRequest("/other"));
  REQUIRE(response);
  CHECK(response->result_int() == 200);

  CHECK(slowloris.waitClosed(std::chrono::seconds(5)));
}

TEST_CASE("HttpServer does not time out while the handler is still working", "[transport]") {
  ServerLimits limits;
  limits.readTimeout = std::chrono::milliseconds(100);
  limits.idleTimeout = std::chrono::milliseconds(100);
  TcpServer server(limits);
  TcpClient slow;
  REQUIRE(slow.connect(loopback(server.port)));
  REQUIRE(slow.write(postRequest("/slow", "kept")));
  auto& harness = server.harness;
  REQUIRE(eventually([&harness] {
    return harness.onIo([handler = &harness.handler()] { return handler->held.size() == 1; });
  }));
  // Both timeouts pass several times over while the request is held.
  const auto heldSince = std::chrono::steady_clock::now();
  REQUIRE(eventually([heldSince] { return std::chrono::steady_clock::now() - heldSince > 500ms; }));
  CHECK(harness.counters().openConnections == 1);
  harness.onIo([handler = &harness.handler()] { handler->releaseHeld(); });
  auto response = slow.read();
  REQUIRE(response);
  CHECK(response->body() == "released kept");
}

TEST_CASE("HttpServer answers 503 to connections beyond maxConnections", "[transport]") {
  ServerLimits limits;
  limits.maxConnections = 1;
  TcpServer server(limits);
  TcpClient first;
  REQUIRE(first.connect(loopback(server.port)));
  REQUIRE(first.request(postRequest("/first")));

  TcpClient second;
  REQUIRE(second.connect(loopback(server.port)));
  auto refused = second.request(postRequest("/second"));
  REQUIRE(refused);
  CHECK(refused->result_int() == 503);
  CHECK(second.waitClosed());

  auto counters = server.harness.counters();
  CHECK(counters.rejectedTotal == 1);
  CHECK(counters.openConnections == 1);
  CHECK(counters.requestsTotal == 1);

  // Once the first client leaves, a new one is served again.
  first.close();
  REQUIRE(eventually([&server] { return server.harness.counters().openConnections == 0; }));
  TcpClient third;
  REQUIRE(third.connect(loopback(server.port)));
  auto served = third.request(postRequest("/third"));
  REQUIRE(served);
  CHECK(served->result_int() == 200);
}
