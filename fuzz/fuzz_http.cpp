// libFuzzer target: raw bytes into the daemon's HTTP transport.  One
// HttpServer (the daemon's limits: 1 MiB body, 8 KiB header) listens on a
// private Unix socket with the real XapiHttpHandler and Dispatcher behind it;
// each input is written on a fresh connection, the write side is shut down,
// and the server's answer is read until it closes.  A connection the server
// neither answers nor closes within five seconds is a finding (hang).
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include <boost/asio/buffer.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <xapi_rpc/dispatch/http_handler.hpp>
#include <xapi_rpc/transport/http_server.hpp>

#include "fuzz_support.hpp"

namespace {

namespace net = boost::asio;
using net::local::stream_protocol;

struct Server {
    Server() : handler(xenrdp::fuzz::world().dispatcher.operator*())
    {
        xenrdp::xapi_rpc::transport::ServerLimits limits;
        limits.readTimeout = std::chrono::milliseconds(500);
        server = std::make_unique<xenrdp::xapi_rpc::transport::HttpServer>(
            xenrdp::fuzz::world().io.get_executor(), handler, limits);
        path = "/tmp/xenrdp-fuzz-http-" + std::to_string(::getpid()) + ".sock";
        std::error_code ec;
        server->listenUnix(path, 0600, ec);
        if (ec) std::abort();
    }
    xenrdp::xapi_rpc::dispatch::XapiHttpHandler handler;
    std::unique_ptr<xenrdp::xapi_rpc::transport::HttpServer> server;
    std::string path;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    static Server* server = new Server();  // lives for the process
    auto& io = xenrdp::fuzz::world().io;

    stream_protocol::socket client(io);
    boost::system::error_code ec;
    client.connect(stream_protocol::endpoint(server->path), ec);
    if (ec) std::abort();

    bool closed = false;
    auto input = std::make_shared<std::string>(reinterpret_cast<const char*>(data), size);
    auto answer = std::make_shared<std::string>();
    net::async_write(client, net::buffer(*input),
                     [&client, input](boost::system::error_code, std::size_t) {
                         boost::system::error_code ignored;
                         client.shutdown(stream_protocol::socket::shutdown_send, ignored);
                     });
    net::async_read(client, net::dynamic_buffer(*answer),
                    [&closed, answer](boost::system::error_code, std::size_t) { closed = true; });
    if (!xenrdp::xapi_rpc::dispatch::test::runUntil(io, [&closed] { return closed; },
                                                     std::chrono::seconds(5))) {
        __builtin_trap();  // neither answered nor closed: a stuck connection
    }
    // Anything answered must be HTTP.
    if (!answer->empty() && answer->rfind("HTTP/1.", 0) != 0) __builtin_trap();
    return 0;
}
