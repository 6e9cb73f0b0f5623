// HttpServer on Unix and TLS sockets, and stopping it.
#include "transport_test_support.hpp"

#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

using namespace xenrdp::xapi_rpc::transport;
using namespace xenrdp::xapi_rpc::transport::test;

namespace {

using UnixEndpoint = net::local::stream_protocol::endpoint;

/// A self-signed certificate for CN=localhost, made with the openssl tool.
struct SelfSignedCert {
  SelfSignedCert() {
    cert = (dir.path() / "cert.pem").string();
    key = (dir.path() / "key.pem").string();
    const auto command = "openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -days 1 -keyout '" +
                         key + "' -out '" + cert + "' >/dev/null 2>&1";
    REQUIRE(std::system(command.c_str()) == 0);
  }
  TempDir dir;
  std::string cert;
  std::string key;
};

}  // namespace

TEST_CASE("HttpServer on a Unix socket reports the peer's uid and pid", "[transport]") {
  TempDir dir;
  const auto path = (dir.path() / "xapi.sock").string();
  ServerHarness harness;
  std::error_code ec;
  harness.server().listenUnix(path, 0600, ec);
  REQUIRE_FALSE(ec);
  harness.start();

  UnixClient client;
  REQUIRE(client.connect(UnixEndpoint(path)));
  auto response = client.request(postRequest("/unix", "u"));
  REQUIRE(response);
  CHECK(response->body() == "/unix||u");
  auto peers = harness.onIo([handler = &harness.handler()] { return handler->peers; });
  REQUIRE(peers.size() == 1);
  CHECK(peers[0].kind == PeerInfo::Kind::Unix);
  CHECK(peers[0].uid == std::optional<uid_t>(::getuid()));
  CHECK(peers[0].pid == std::optional<pid_t>(::getpid()));
}

TEST_CASE("HttpServer gives the Unix socket file the requested mode", "[transport]") {
  TempDir dir;
  const auto path = (dir.path() / "xapi.sock").string();
  ServerHarness harness;
  std::error_code ec;
  harness.server().listenUnix(path, 0600, ec);
  REQUIRE_FALSE(ec);
  struct stat info {};
  REQUIRE(::stat(path.c_str(), &info) == 0);
  CHECK(S_ISSOCK(info.st_mode));
  CHECK((info.st_mode & 0777) == 0600);
}

TEST_CASE("HttpServer replaces a stale Unix socket file but not a regular file", "[transport]") {
  TempDir dir;
  const auto path = (dir.path() / "xapi.sock").string();
  {
    ServerHarness first;
    std::error_code ec;
    first.server().listenUnix(path, 0600, ec);
    REQUIRE_FALSE(ec);
    // Leave the socket file behind as a crashed daemon would.
    REQUIRE(::link(path.c_str(), (dir.path() / "keep.sock").c_str()) == 0);
  }
  REQUIRE(::rename((dir.path() / "keep.sock").c_str(), path.c_str()) == 0);
  ServerHarness second;
  std::error_code ec;
  second.server().listenUnix(path, 0600, ec);
  CHECK_FALSE(ec);

  const auto regular = (dir.path() / "regular").string();
  std::ofstream(regular) << "data";
  ServerHarness third;
  third.server().listenUnix(regular, 0600, ec);
  CHECK(ec);
  CHECK(std::filesystem::is_regular_file(regular));
}

TEST_CASE("HttpServer serves HTTPS with a certificate made at test time", "[transport]") {
  SelfSignedCert certificate;
  ServerHarness harness;
  std::error_code ec;
  const auto port = harness.server().listenTls("127.0.0.1", 0, certificate.cert, certificate.key, ec).port;
  REQUIRE_FALSE(ec);
  harness.start();

  net::ssl::context clientContext(net::ssl::context::tls_client);
  clientContext.load_verify_file(certificate.cert);
  clientContext.set_verify_mode(net::ssl::verify_peer);
  TlsClient client(clientContext);
  REQUIRE(client.connect(loopback(port)));
  REQUIRE(client.handshake());
  for (int i = 0; i < 2; ++i) {
    auto response = client.request(postRequest("/tls", "secret", "X-Test: t\r\n"));
    REQUIRE(response);
    CHECK(response->body() == "/tls|t|secret");
  }
  auto peers = harness.onIo([handler = &harness.handler()] { return handler->peers; });
  REQUIRE(peers.size() == 2);
  CHECK(peers[0].kind == PeerInfo::Kind::Tls);
}

TEST_CASE("HttpServer refuses a TLS listener whose key file is missing", "[transport]") {
  SelfSignedCert certificate;
  ServerHarness harness;
  std::error_code ec;
  harness.server().listenTls("127.0.0.1", 0, certificate.cert, certificate.key + ".missing", ec);
  CHECK(ec);
}

TEST_CASE("HttpServer refuses TLS clients older than TLS 1.2", "[transport]") {
  SelfSignedCert certificate;
  ServerHarness harness;
  std::error_code ec;
  const auto port = harness.server().listenTls("127.0.0.1", 0, certificate.cert, certificate.key, ec).port;
  REQUIRE_FALSE(ec);
  harness.start();

  net::ssl::context clientContext(net::ssl::context::tls_client);
  clientContext.set_verify_mode(net::ssl::verify_none);
  // Allow TLS 1.1 on the client at all (OpenSSL's default level forbids it).
  SSL_CTX_set_security_level(clientContext.native_handle(), 0);
  REQUIRE(SSL_CTX_set_min_proto_version(clientContext.native_handle(), TLS1_1_VERSION) == 1);
  REQUIRE(SSL_CTX_set_max_proto_version(clientContext.native_handle(), TLS1_1_VERSION) == 1);
  TlsClient client(clientContext);
  REQUIRE(client.connect(loopback(port)));
  CHECK_FALSE(client.handshake());
}

TEST_CASE("HttpServer stop closes listeners and idle connections", "[transport]") {
  TempDir dir;
  const auto path = (dir.path() / "xapi.sock").string();
  ServerHarness harness;
  std::error_code ec;
  const auto port = harness.server().listenTcp("127.0.0.1", 0, ec).port;
  REQUIRE_FALSE(ec);
  harness.server().listenUnix(path, 0600, ec);
  REQUIRE_FALSE(ec);
  harness.start();

  TcpClient idle;
  REQUIRE(idle.connect(loopback(port)));
  REQUIRE(idle.request(postRequest("/before")));

  auto drained = std::make_shared<std::atomic<bool>>(false);
  harness.onIo([server = &harness.server(), drained] {
    server->stop(std::chrono::seconds(5), [drained] { drained->store(true); });
  });
  CHECK(idle.waitClosed());
  CHECK(eventually([drained] { return drained->load(); }));

  TcpClient late;
  CHECK_FALSE(late.connect(loopback(port)));
  CHECK_FALSE(std::filesystem::exists(path));
}

TEST_CASE("HttpServer stop lets a request in progress finish with Connection: close", "[transport]") {
  ServerHarness harness;
  std::error_code ec;
  const auto port = harness.server().listenTcp("127.0.0.1", 0, ec).port;
  REQUIRE_FALSE(ec);
  harness.start();

  TcpClient busy;
  REQUIRE(busy.connect(loopback(port)));
  REQUIRE(busy.write(postRequest("/slow", "last")));
  REQUIRE(eventually([&harness] {
    return harness.onIo([handler = &harness.handler()] { return handler->held.size() == 1; });
  }));
  harness.onIo([server = &harness.server()] { server->stop(std::chrono::seconds(5)); });
  harness.onIo([handler = &harness.handler()] { handler->releaseHeld(); });
  auto response = busy.read();
  REQUIRE(response);
  CHECK(response->body() == "released last");
  CHECK_FALSE(response->keep_alive());
  CHECK(busy.waitClosed());
}

TEST_CASE("HttpServer stop cuts off requests still running after the drain bound", "[transport]") {
  ServerHarness harness;
  std::error_code ec;
  const auto port = harness.server().listenTcp("127.0.0.1", 0, ec).port;
  REQUIRE_FALSE(ec);
  harness.start();

  TcpClient stuck;
  REQUIRE(stuck.connect(loopback(port)));
  REQUIRE(stuck.write(postRequest("/slow")));
  REQUIRE(eventually([&harness] {
    return harness.onIo([handler = &harness.handler()] { return handler->held.size() == 1; });
  }));
  auto drained = std::make_shared<std::atomic<bool>>(false);
  harness.onIo([server = &harness.server(), drained] {
    server->stop(std::chrono::milliseconds(100), [drained] { drained->store(true); });
  });
  CHECK(stuck.waitClosed(std::chrono::seconds(5)));
  CHECK(eventually([drained] { return drained->load(); }));
}
