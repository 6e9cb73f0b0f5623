// HTTP behaviour of HttpServer over plain TCP on 127.0.0.1, port 0.
#include "transport_test_support.hpp"

#include <catch2/catch.hpp>

#include <set>
#include <vector>

using namespace xenrdp::xapi_rpc::transport;
using namespace xenrdp::xapi_rpc::transport::test;

namespace {

/// A harness listening on an ephemeral loopback port, already running.
struct TcpServer {
  explicit TcpServer(ServerLimits limits = {}) : harness(limits) {
    std::error_code ec;
    port = harness.server().listenTcp("127.0.0.1", 0, ec).port;
    REQUIRE_FALSE(ec);
    REQUIRE(port != 0);
    harness.start();
  }
  ServerHarness harness;
  std::uint16_t port = 0;
};

}  // namespace

TEST_CASE("HttpServer passes method, target, headers and body to the handler", "[transport]") {
  TcpServer server;
  TcpClient client;
  REQUIRE(client.connect(loopback(server.port)));
  auto response = client.request(postRequest("/jsonrpc", "{\"id\":1}", "X-Test: hello\r\n"));
  REQUIRE(response);
  CHECK(response->result_int() == 200);
  CHECK(response->body() == "/jsonrpc|hello|{\"id\":1}");

  auto requests = server.harness.onIo([handler = &server.harness.handler()] { return handler->requests; });
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].method == "POST");
  CHECK(requests[0].version == 11);
  CHECK(requests[0].keepAlive);
  CHECK(requests[0].header("HOST") == std::optional<std::string_view>("test"));
  CHECK(requests[0].connection != nullptr);
  auto peers = server.harness.onIo([handler = &server.harness.handler()] { return handler->peers; });
  CHECK(peers[0].kind == PeerInfo::Kind::Tcp);
  CHECK(peers[0].address.rfind("127.0.0.1:", 0) == 0);
  CHECK_FALSE(peers[0].uid.has_value());
}

TEST_CASE("HttpServer serves three requests on one keep-alive connection", "[transport]") {
  TcpServer server;
  TcpClient client;
  REQUIRE(client.connect(loopback(server.port)));
  for (int i = 0; i < 3; ++i) {
    auto response = client.request(postRequest("/n", std::to_string(i)));
    REQUIRE(response);
    CHECK(response->body() == "/n||" + std::to_string(i));
    CHECK(response->keep_alive());
  }
  auto counters = server.harness.counters();
  CHECK(counters.acceptedTotal == 1);
  CHECK(counters.requestsTotal == 3);
}

TEST_CASE("HttpServer answers pipelined requests in order", "[transport]") {
  TcpServer server;
  TcpClient client;
  REQUIRE(client.connect(loopback(server.port)));
  REQUIRE(client.write(postRequest("/first", "a") + postRequest("/second", "b")));
  auto first = client.read();
  auto second = client.read();
  REQUIRE(first);
  REQUIRE(second);
  CHECK(first->body() == "/first||a");
  CHECK(second->body() == "/second||b");
}

TEST_CASE("HttpServer keeps a request pipelined behind a held one until the first is answered", "[transport]") {
  TcpServer server;
  TcpClient client;
  REQUIRE(client.connect(loopback(server.port)));
  REQUIRE(client.write(postRequest("/slow", "one")));
  auto& harness = server.harness;
  REQUIRE(eventually([&harness] {
    return harness.onIo([handler = &harness.handler()] { return handler->held.size() == 1; });
  }));
  // Arrives while the handler holds the first request: must wait, not be lost.
  REQUIRE(client.write(postRequest("/second", "two")));
  harness.onIo([handler = &harness.handler()] { handler->releaseHeld(); });
  auto first = client.read();
  auto second = client.read();
  REQUIRE(first);
  REQUIRE(second);
  CHECK(first->body() == "released one");
  CHECK(second->body() == "/second||two");
}

TEST_CASE("HttpServer serves a second connection while a handler answers the first later", "[transport]") {
  TcpServer server;
  TcpClient slow;
  TcpClient fast;
  REQUIRE(slow.connect(loopback(server.port)));
  REQUIRE(fast.connect(loopback(server.port)));
  REQUIRE(slow.write(postRequest("/slow", "long-poll")));
  REQUIRE(eventually([&server] {
    return server.harness.onIo([handler = &server.harness.handler()] { return handler->held.size() == 1; });
  }));

  auto released = fast.request(postRequest("/release"));
  REQUIRE(released);
  CHECK(released->body() == "release");
  CHECK(server.harness.onIo([handler = &server.harness.handler()] { return handler->heldWhenReleaseArrived; }));

  auto late = slow.read();  // answered by the handler's timer
  REQUIRE(late);
  CHECK(late->body() == "released long-poll");
}

TEST_CASE("HttpServer sends exactly the handler's headers plus framing", "[transport]") {
  TcpServer server;
  TcpClient client;
  REQUIRE(client.connect(loopback(server.port)));
  auto response = client.request(postRequest("/headers"));
  REQUIRE(response);
  CHECK(response->result_int() == 201);
  std::set<std::string> names;
  for (const auto& field : *response) names.insert(std::string(field.name_string()));
  CHECK(names == std::set<std::string>{"Content-Type", "Access-Control-Allow-Origin", "Content-Length"});
  CHECK(std::string((*response)["Content-Type"]) == "application/json");
  CHECK(std::string((*response)["Content-Length"]) == "11");
}

TEST_CASE("HttpServer frames a response itself, whatever framing headers the handler gave", "[transport]") {
  TcpServer server;
  TcpClient client;
  REQUIRE(client.connect(loopback(server.port)));
  auto response = client.request(postRequest("/framing"));
  REQUIRE(response);
  std::vector<std::string> names;
  for (const auto& field : *response) names.emplace_back(field.name_string());
  // The handler's valid fields in order, then the transport's Connection and Content-Length.
  CHECK(names == std::vector<std::string>{"X-Kept", "Connection", "Content-Length"});
  CHECK(std::string((*response)["Content-Length"]) == "6");
  CHECK(response->body() == "framed");
  CHECK(std::string((*response)["Connection"]) == "close");  // the handler's close token is honoured
  CHECK(client.waitClosed());
}

TEST_CASE("HttpServer sends a 204 without a body or Content-Length and keeps the connection", "[transport]") {
  TcpServer server;
  TcpClient client;
  REQUIRE(client.connect(loopback(server.port)));
  auto empty = client.request(postRequest("/no-content"));
  REQUIRE(empty);
  CHECK(empty->result_int() == 204);
  CHECK(empty->find(boost::beast::http::field::content_length) == empty->end());
  CHECK(std::string((*empty)["X-Kept"]) == "yes");
  CHECK(empty->body().empty());
  // Had a body or a length gone out, this answer would be misread.
  auto next = client.request(postRequest("/after", "data"));
  REQUIRE(next);
  CHECK(next->body() == "/after||data");
}

TEST_CASE("HttpServer keeps an HTTP/1.0 connection that asked for keep-alive", "[transport]") {
  TcpServer server;
  TcpClient client;
  REQUIRE(client.connect(loopback(server.port)));
  auto first = client.request("GET /one HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  REQUIRE(first);
  CHECK(first->version() == 10);
  CHECK(std::string((*first)["Connection"]) == "keep-alive");
  auto second = client.request("GET /two HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  REQUIRE(second);
  CHECK(second->body() == "/two||");
}

TEST_CASE("HttpServer answers HTTP/1.0 with HTTP/1.0 and closes the connection", "[transport]") {
  TcpServer server;
  TcpClient client;
  REQUIRE(client.connect(loopback(server.port)));
  auto response = client.request("GET /old HTTP/1.0\r\n\r\n");
  REQUIRE(response);
  CHECK(response->version() == 10);
  CHECK(response->body() == "/old||");
  CHECK_FALSE(response->keep_alive());
  CHECK(client.waitClosed());
}

TEST_CASE("HttpServer honours Connection: close from the client", "[transport]") {
  TcpServer server;
  TcpClient client;
  REQUIRE(client.connect(loopback(server.port)));
  auto response = client.request(postRequest("/bye", "", "Connection: close\r\n"));
  REQUIRE(response);
  CHECK(std::string((*response)["Connection"]) == "close");
  CHECK(client.waitClosed());
}

TEST_CASE("HttpServer answers 400 and closes the connection on malformed HTTP", "[transport]") {
  TcpServer server;
  TcpClient client;
  REQUIRE(client.connect(loopback(server.port)));
  auto response = client.request("THIS IS NOT HTTP\r\n\r\n");
  REQUIRE(response);
  CHECK(response->result_int() == 400);
  CHECK(client.waitClosed());
  CHECK(server.harness.counters().requestsTotal == 0);
}

TEST_CASE("HttpServer answers 500 when the handler throws", "[transport]") {
  TcpServer server;
  TcpClient client;
  REQUIRE(client.connect(loopback(server.port)));
  auto response = client.request(postRequest("/throw"));
  REQUIRE(response);
  CHECK(response->result_int() == 500);
  auto after = client.request(postRequest("/still-alive"));  // the connection survives
  REQUIRE(after);
  CHECK(after->result_int() == 200);
}

TEST_CASE("HttpServer answers 500 when the handler drops respond without calling it", "[transport]") {
  TcpServer server;
  TcpClient client;
  REQUIRE(client.connect(loopback(server.port)));
  auto response = client.request(postRequest("/drop"));
  REQUIRE(response);
  CHECK(response->result_int() == 500);
}

TEST_CASE("HttpServer sends 100 Continue before reading a body when the client expects it", "[transport]") {
  TcpServer server;
  TcpClient client;
  REQUIRE(client.connect(loopback(server.port)));
  REQUIRE(client.write("POST /c HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"));
  auto interim = client.read();
  REQUIRE(interim);
  CHECK(interim->result_int() == 100);
  auto response = client.request("hello");
  REQUIRE(response);
  CHECK(response->body() == "/c||hello");
}

TEST_CASE("HttpServer tells the handler when the client goes away during a long-poll", "[transport]") {
  TcpServer server;
  auto client = std::make_unique<TcpClient>();
  REQUIRE(client->connect(loopback(server.port)));
  REQUIRE(client->write(postRequest("/slow")));
  auto& harness = server.harness;
  REQUIRE(eventually([&harness] {
    return harness.onIo([handler = &harness.handler()] { return handler->held.size() == 1; });
  }));
  client->close();
  REQUIRE(eventually([&harness] {
    return harness.onIo([handler = &harness.handler()] {
      return handler->closeNotices == 1 && !handler->held.front().first.connection->alive();
    });
  }));
  // Answering the vanished client is harmless and frees the connection.
  harness.onIo([handler = &harness.handler()] { handler->releaseHeld(); });
  CHECK(eventually([&harness] { return harness.counters().openConnections == 0; }));
}

TEST_CASE("ConnectionStatus runs each remaining close callback once, and none that was forgotten", "[transport]") {
  ConnectionStatus status;
  int kept = 0;
  int dropped = 0;
  const auto keptId = status.onClose([&kept] { ++kept; });
  const auto droppedId = status.onClose([&dropped] { ++dropped; });
  CHECK(keptId != 0);
  CHECK(droppedId != keptId);
  CHECK(status.pending() == 2);
  status.forget(droppedId);
  status.forget(droppedId);  // twice, or unknown: ignored
  status.forget(0);
  CHECK(status.pending() == 1);
  status.markClosed();
  status.markClosed();
  CHECK(kept == 1);
  CHECK(dropped == 0);
  CHECK(status.pending() == 0);
  // Registered after the close: runs at once, and there is nothing to forget.
  CHECK(status.onClose([&kept] { ++kept; }) == 0);
  CHECK(kept == 2);
}
