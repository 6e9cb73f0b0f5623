#pragma once
// Private: the server's TLS settings in one place.

#include <boost/asio/ssl/context.hpp>

#include <memory>
#include <string>
#include <system_error>

namespace xenrdp::xapi_rpc::transport {

/// A server context: TLS 1.2+, ECDHE key exchange with AEAD ciphers only, no
/// compression, no renegotiation, loading a PEM chain and key. Blocks on file
/// reads (startup only). Returns null and sets `ec` on failure.
std::shared_ptr<boost::asio::ssl::context> makeServerTlsContext(const std::string& certFile,
                                                                const std::string& keyFile,
                                                                std::error_code& ec);

}  // namespace xenrdp::xapi_rpc::transport
