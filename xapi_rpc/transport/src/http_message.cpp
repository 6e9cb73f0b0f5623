#include <xapi_rpc/transport/http_message.hpp>

namespace xenrdp::xapi_rpc::transport {

namespace {
char lowerAscii(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
}  // namespace

bool equalsIgnoreCase(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lowerAscii(a[i]) != lowerAscii(b[i])) return false;
  }
  return true;
}

std::optional<std::string_view> HttpRequest::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (equalsIgnoreCase(key, name)) return std::string_view(value);
  }
  return std::nullopt;
}

std::uint64_t ConnectionStatus::onClose(std::function<void()> callback) {
  if (!callback) return 0;
  if (!alive_) {
    try {
      callback();
    } catch (...) {  // a callback's failure must not reach the transport
    }
    return 0;
  }
  const std::uint64_t id = nextId_++;
  callbacks_.emplace_back(id, std::move(callback));
  return id;
}

void ConnectionStatus::forget(std::uint64_t id) noexcept {
  std::erase_if(callbacks_, [id](const auto& entry) { return entry.first == id; });
}

void ConnectionStatus::markClosed() noexcept {
  if (!alive_) return;
  alive_ = false;
  // Moved out first: a callback may call forget() or onClose().
  auto callbacks = std::move(callbacks_);
  callbacks_.clear();
  for (auto& [id, callback] : callbacks) {
    try {
      callback();
    } catch (...) {  // a callback's failure must not reach the transport
    }
  }
}

}  // namespace xenrdp::xapi_rpc::transport
