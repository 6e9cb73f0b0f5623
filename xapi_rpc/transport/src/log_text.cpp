#include <xapi_rpc/transport/log_text.hpp>

namespace xenrdp::xapi_rpc::transport {

std::string logText(std::string_view text, std::size_t maxBytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  const std::string_view shown = text.substr(0, maxBytes);
  std::string out;
  out.reserve(shown.size() + 16);
  for (const char c : shown) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (byte > 0x20 && byte < 0x7f) {
      out.push_back(c);
    } else {
      out += "\\x";
      out.push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 0x0f]);
    }
  }
  if (text.size() > shown.size())
    out += "\xe2\x80\xa6(+" + std::to_string(text.size() - shown.size()) + " bytes)";
  return out;
}

}  // namespace xenrdp::xapi_rpc::transport
