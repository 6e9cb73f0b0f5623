#pragma once
/// Client: a synchronous, RAII view of one xenstore handle.
///
/// Every request blocks until xenstored answers, so a Client is used only on
/// the xenstore executor (see Connection), never on the io thread.  Each call
/// has an error_code overload and a throwing one (std::system_error), as Asio
/// does.  A missing node (ENOENT) is a normal absence: std::nullopt with no
/// error.  Non-copyable, movable.  Not thread-safe by itself: one thread at a
/// time (libxenstore does serialize requests on the handle).
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
    /// A disconnected Client: every request fails with XsErrc::notConnected.
    Client() noexcept;
    /// Takes ownership of an opened handle (null gives a disconnected Client).
    explicit Client(std::unique_ptr<XsApi> api) noexcept;
    /// Opens a handle on `socketPath` (empty: libxenstore's default).
    /// Blocking.  Throws std::system_error.
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
    void mkdir(std::string_view path);
    /// Children names; nullopt if the node does not exist.
    std::optional<std::vector<std::string>> directory(std::string_view path, std::error_code& ec);
    std::optional<std::vector<std::string>> directory(std::string_view path);
    /// `perms` in xenstore's textual form, e.g. {"n0", "r5"} (owner first).
    void setPermissions(std::string_view path, const std::vector<std::string>& perms,
                        std::error_code& ec);

    /// Runs `fn` inside a transaction and commits.  When the commit (or an
    /// operation of `fn`) reports EAGAIN (a conflict), the transaction is
    /// aborted and `fn` runs again, at most `maxRetries` more times; then
    /// ec = XsErrc::retriesExhausted.  Any other error set by `fn` aborts and
    /// is returned in `ec`.  `fn` must therefore be safe to run again.
    void withTransaction(const std::function<void(Transaction&, std::error_code&)>& fn,
                         std::error_code& ec, int maxRetries = 16);
    void withTransaction(const std::function<void(Transaction&, std::error_code&)>& fn,
                         int maxRetries = 16);

    void introduceDomain(std::uint32_t domid, std::error_code& ec);
    void releaseDomain(std::uint32_t domid, std::error_code& ec);
    /// Whether xenstored has the domain introduced (false on error, with ec set).
    bool isDomainIntroduced(std::uint32_t domid, std::error_code& ec);

    /// A cheap request (read of "/") to check that xenstored still answers.
    /// Any failure marks the Client lost.
    void ping(std::error_code& ec);

    /// True once a request failed in a way that means the handle is dead
    /// (isConnectionLoss(), or a failed ping()).  Sticky: libxenstore never
    /// revives a handle; reopen instead.
    bool lost() const noexcept { return lost_; }

    /// The underlying handle (for the watch dispatcher).  Precondition: the
    /// Client is connected (constructed with a handle).
    XsApi& api() noexcept { return *api_; }
    bool hasHandle() const noexcept { return api_ != nullptr; }

private:
    /// Turns the current errno into `ec` and records a loss.
    void fail(std::error_code& ec) noexcept;
    bool ready(std::error_code& ec) noexcept;

    std::unique_ptr<XsApi> api_;
    bool lost_ = false;
};

/// A started transaction on one handle (not owned; it must outlive this).
/// Aborts in its destructor unless commit() succeeded.  Same thread rules as
/// Client.
class Transaction {
public:
    /// Starts a transaction; on failure `ec` is set and every call fails.
    Transaction(XsApi& api, std::error_code& ec);
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    ~Transaction();

    std::optional<std::string> read(std::string_view path, std::error_code& ec);
    void write(std::string_view path, std::string_view value, std::error_code& ec);
    /// Removing a missing node is not an error.
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
