#include "tls_context.hpp"

#include <boost/asio/ssl/error.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>

namespace xenrdp::xapi_rpc::transport {

namespace ssl = boost::asio::ssl;

std::shared_ptr<ssl::context> makeServerTlsContext(const std::string& certFile,
                                                   const std::string& keyFile,
                                                   std::error_code& ec) {
  ec.clear();
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  boost::system::error_code bec;
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                       ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                       ssl::context::no_tlsv1_1 | ssl::context::no_compression |
                       ssl::context::single_dh_use,
                   bec);
  if (!bec && SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION) != 1) {
    bec = boost::system::error_code(static_cast<int>(::ERR_get_error()),
                                    boost::asio::error::get_ssl_category());
  }
  if (!bec) {
    SSL_CTX_set_options(ctx->native_handle(), SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    // TLS 1.2 list; TLS 1.3 suites are all AEAD and OpenSSL's defaults are kept.
    constexpr const char* kCiphers =
        "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
        "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
        "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
    if (SSL_CTX_set_cipher_list(ctx->native_handle(), kCiphers) != 1) {
      bec = boost::system::error_code(static_cast<int>(::ERR_get_error()),
                                      boost::asio::error::get_ssl_category());
    }
  }
  if (!bec) ctx->use_certificate_chain_file(certFile, bec);
  if (!bec) ctx->use_private_key_file(keyFile, ssl::context::pem, bec);
  if (!bec && SSL_CTX_check_private_key(ctx->native_handle()) != 1) {
    bec = boost::system::error_code(static_cast<int>(::ERR_get_error()),
                                    boost::asio::error::get_ssl_category());
  }
  if (bec) {
    ec = bec;
    return nullptr;
  }
  return ctx;
}

}  // namespace xenrdp::xapi_rpc::transport
