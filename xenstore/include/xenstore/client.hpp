#pragma once
/// Client: a synchronous, RAII view of one xenstore handle.
///
/// Every request blocks until xenstored answers, so a Client is used only on
/// the xenstore executor (see Connection), never on the io thread.  Each call
/// has an error_code overload and a throwing one (std::system_error), as Asio
/// does.  A missing node (ENOENT) is a normal absence: std::nullopt with no
/// error.  Non-copyable, movable.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <xenstore/error.hpp>

namespace xenrdp::xenstore {

class XsApi;
class Transaction;

class Client {
public:
    /// Takes ownership of an opened handle (never null).
    explicit Client(std::unique_ptr<XsApi> api);
    /// Opens a handle on `socketPath` (empty: libxenstore's default).  Throws std::system_error.
    static Client open(const std::string& socketPath, bool unwatchFilter = false);
    static std::optional<Client> open(const std::string& socketPath, bool unwatchFilter,
                                      std::error_code& ec);

    Client(Client&&) noexcept;
    Client& operator=(Client&&) noexcept;
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;
    ~Client();

    std::optional<std::string> read(std::string_view path, std::error_code& ec);
    std::optional<std::string> read(std::string_view path);
    void write(std::string_view path, std::string_view value, std::error_code& ec);
    void write(std::string_view path, std::string_view value);
    /// Removing a missing node is not an error.
    void remove(std::string_view path, std::error_code& ec);
    void remove(std::string_view path);
    void mkdir(std::string_view path, std::error_code& ec);
    /// Children names; nullopt if the node does not exist.
    std::optional<std::vector<std::string>> directory(std::string_view path, std::error_code& ec);
    std::optional<std::vector<std::string>> directory(std::string_view path);
    void setPermissions(std::string_view path, const std::vector<std::string>& perms,
                        std::error_code& ec);

    /// Runs `fn` inside a transaction and commits; on EAGAIN (conflict) runs it
    /// again, at most `maxRetries` times.  `fn` returning an error aborts.
    void withTransaction(const std::function<void(Transaction&, std::error_code&)>& fn,
                         std::error_code& ec, int maxRetries = 16);

    void introduceDomain(std::uint32_t domid, std::error_code& ec);
    void releaseDomain(std::uint32_t domid, std::error_code& ec);

    /// The underlying handle, for the watch dispatcher.
    XsApi& api() noexcept { return *api_; }

private:
    std::unique_ptr<XsApi> api_;
};

/// A started transaction.  Aborts in its destructor unless commit() succeeded.
class Transaction {
public:
    Transaction(XsApi& api, std::error_code& ec);
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    ~Transaction();

    std::optional<std::string> read(std::string_view path, std::error_code& ec);
    void write(std::string_view path, std::string_view value, std::error_code& ec);
    void remove(std::string_view path, std::error_code& ec);
    void mkdir(std::string_view path, std::error_code& ec);
    std::optional<std::vector<std::string>> directory(std::string_view path, std::error_code& ec);
    void setPermissions(std::string_view path, const std::vector<std::string>& perms,
                        std::error_code& ec);
    /// Returns false with ec == EAGAIN on a conflict (the caller retries).
    bool commit(std::error_code& ec);

private:
    XsApi* api_;
    std::uint32_t id_ = 0;
    bool done_ = false;
};

}  // namespace xenrdp::xenstore
