#include <xenstore/client.hpp>

#include <xenstore/xs_api.hpp>

#include <cerrno>

namespace xenrdp::xenstore {
namespace {

/// The errno of the failed call, or EIO if libxenstore left none.
std::error_code lastError() noexcept
{
    return errnoCode(errno != 0 ? errno : EIO);
}

// One implementation per request, shared by Client and Transaction.  errno
// is cleared first so that a failure without errno is still reported.

std::optional<std::string> doRead(XsApi& api, std::uint32_t txn, std::string_view path,
                                  std::error_code& ec)
{
    ec.clear();
    errno = 0;
    auto v = api.read(txn, std::string(path));
    if (!v && errno != ENOENT)
        ec = lastError();
    return v;
}

void doWrite(XsApi& api, std::uint32_t txn, std::string_view path, std::string_view value,
             std::error_code& ec)
{
    ec.clear();
    errno = 0;
    if (!api.write(txn, std::string(path), value))
        ec = lastError();
}

void doRemove(XsApi& api, std::uint32_t txn, std::string_view path, std::error_code& ec)
{
    ec.clear();
    errno = 0;
    if (!api.remove(txn, std::string(path)) && errno != ENOENT)
        ec = lastError();
}

void doMkdir(XsApi& api, std::uint32_t txn, std::string_view path, std::error_code& ec)
{
    ec.clear();
    errno = 0;
    if (!api.mkdir(txn, std::string(path)))
        ec = lastError();
}

std::optional<std::vector<std::string>> doDirectory(XsApi& api, std::uint32_t txn,
                                                    std::string_view path, std::error_code& ec)
{
    ec.clear();
    errno = 0;
    auto v = api.directory(txn, std::string(path));
    if (!v && errno != ENOENT)
        ec = lastError();
    return v;
}

void doSetPermissions(XsApi& api, std::uint32_t txn, std::string_view path,
                      const std::vector<std::string>& perms, std::error_code& ec)
{
    ec.clear();
    errno = 0;
    if (!api.setPermissions(txn, std::string(path), perms))
        ec = lastError();
}

void throwIf(const std::error_code& ec, std::string_view what, std::string_view path)
{
    if (ec)
        throw std::system_error(ec, std::string(what) + " " + std::string(path));
}

}  // namespace

Client::Client() noexcept = default;
Client::Client(std::unique_ptr<XsApi> api) noexcept : api_(std::move(api)) {}
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;
Client::~Client() = default;

Client Client::open(const std::string& socketPath, bool unwatchFilter)
{
    std::error_code ec;
    auto c = open(socketPath, unwatchFilter, ec);
    if (!c)
        throw std::system_error(ec, "xs_open " + socketPath);
    return std::move(*c);
}

std::optional<Client> Client::open(const std::string& socketPath, bool unwatchFilter,
                                   std::error_code& ec)
{
    ec.clear();
    errno = 0;
    auto api = openRealXsApi(socketPath, unwatchFilter);
    if (!api) {
        ec = lastError();
        return std::nullopt;
    }
    return Client(std::move(api));
}

bool Client::ready(std::error_code& ec) noexcept
{
    if (api_)
        return true;
    ec = XsErrc::notConnected;
    lost_ = true;
    return false;
}

void Client::fail(std::error_code& ec) noexcept
{
    if (ec && isConnectionLoss(ec))
        lost_ = true;
}

std::optional<std::string> Client::read(std::string_view path, std::error_code& ec)
{
    if (!ready(ec))
        return std::nullopt;
    auto v = doRead(*api_, 0, path, ec);
    fail(ec);
    return v;
}

std::optional<std::string> Client::read(std::string_view path)
{
    std::error_code ec;
    auto v = read(path, ec);
    throwIf(ec, "xenstore read", path);
    return v;
}

void Client::write(std::string_view path, std::string_view value, std::error_code& ec)
{
    if (!ready(ec))
        return;
    doWrite(*api_, 0, path, value, ec);
    fail(ec);
}

void Client::write(std::string_view path, std::string_view value)
{
    std::error_code ec;
    write(path, value, ec);
    throwIf(ec, "xenstore write", path);
}

void Client::remove(std::string_view path, std::error_code& ec)
{
    if (!ready(ec))
        return;
    doRemove(*api_, 0, path, ec);
    fail(ec);
}

void Client::remove(std::string_view path)
{
    std::error_code ec;
    remove(path, ec);
    throwIf(ec, "xenstore rm", path);
}

void Client::mkdir(std::string_view path, std::error_code& ec)
{
    if (!ready(ec))
        return;
    doMkdir(*api_, 0, path, ec);
    fail(ec);
}

void Client::mkdir(std::string_view path)
{
    std::error_code ec;
    mkdir(path, ec);
    throwIf(ec, "xenstore mkdir", path);
}

std::optional<std::vector<std::string>> Client::directory(std::string_view path,
                                                          std::error_code& ec)
{
    if (!ready(ec))
        return std::nullopt;
    auto v = doDirectory(*api_, 0, path, ec);
    fail(ec);
    return v;
}

std::optional<std::vector<std::string>> Client::directory(std::string_view path)
{
    std::error_code ec;
    auto v = directory(path, ec);
    throwIf(ec, "xenstore directory", path);
    return v;
}

void Client::setPermissions(std::string_view path, const std::vector<std::string>& perms,
                            std::error_code& ec)
{
    if (!ready(ec))
        return;
    doSetPermissions(*api_, 0, path, perms, ec);
    fail(ec);
}

void Client::withTransaction(const std::function<void(Transaction&, std::error_code&)>& fn,
                             std::error_code& ec, int maxRetries)
{
    if (!ready(ec))
        return;
    for (int attempt = 0; attempt <= maxRetries; ++attempt) {
        ec.clear();
        Transaction txn(*api_, ec);
        if (ec) {
            fail(ec);
            return;
        }
        fn(txn, ec);
        if (!ec)
            txn.commit(ec);
        if (!ec)
            return;
        if (ec.value() != EAGAIN || ec.category() != xenstoreCategory()) {
            fail(ec);
            return;  // txn's destructor aborts if it was not ended
        }
        // Conflict: the destructor aborts this attempt, then run fn again.
    }
    ec = XsErrc::retriesExhausted;
}

void Client::withTransaction(const std::function<void(Transaction&, std::error_code&)>& fn,
                             int maxRetries)
{
    std::error_code ec;
    withTransaction(fn, ec, maxRetries);
    throwIf(ec, "xenstore transaction", "");
}

void Client::introduceDomain(std::uint32_t domid, std::error_code& ec)
{
    if (!ready(ec))
        return;
    ec.clear();
    errno = 0;
    // A socket-only test xenstored accepts mfn 0 / port 1 (see the sandbox).
    if (!api_->introduceDomain(domid, 0, 1))
        ec = lastError();
    fail(ec);
}

void Client::releaseDomain(std::uint32_t domid, std::error_code& ec)
{
    if (!ready(ec))
        return;
    ec.clear();
    errno = 0;
    if (!api_->releaseDomain(domid))
        ec = lastError();
    fail(ec);
}

bool Client::isDomainIntroduced(std::uint32_t domid, std::error_code& ec)
{
    if (!ready(ec))
        return false;
    ec.clear();
    errno = 0;
    std::optional<bool> introduced = api_->isDomainIntroduced(domid);
    if (!introduced)
        ec = lastError();
    fail(ec);
    return introduced.value_or(false);
}

void Client::ping(std::error_code& ec)
{
    if (!ready(ec))
        return;
    ec.clear();
    errno = 0;
    if (!api_->read(0, "/")) {
        ec = lastError();
        lost_ = true;
    }
}

Transaction::Transaction(XsApi& api, std::error_code& ec) : api_(&api)
{
    ec.clear();
    errno = 0;
    id_ = api_->transactionStart();
    if (id_ == 0) {
        ec = lastError();
        done_ = true;
    }
}

Transaction::~Transaction()
{
    if (!done_)
        api_->transactionEnd(id_, true);
}

namespace {
bool alive(bool done, std::error_code& ec)
{
    if (!done)
        return true;
    ec = std::make_error_code(std::errc::invalid_argument);
    return false;
}
}  // namespace

std::optional<std::string> Transaction::read(std::string_view path, std::error_code& ec)
{
    if (!alive(done_, ec))
        return std::nullopt;
    return doRead(*api_, id_, path, ec);
}

void Transaction::write(std::string_view path, std::string_view value, std::error_code& ec)
{
    if (alive(done_, ec))
        doWrite(*api_, id_, path, value, ec);
}

void Transaction::remove(std::string_view path, std::error_code& ec)
{
    if (alive(done_, ec))
        doRemove(*api_, id_, path, ec);
}

void Transaction::mkdir(std::string_view path, std::error_code& ec)
{
    if (alive(done_, ec))
        doMkdir(*api_, id_, path, ec);
}

std::optional<std::vector<std::string>> Transaction::directory(std::string_view path,
                                                               std::error_code& ec)
{
    if (!alive(done_, ec))
        return std::nullopt;
    return doDirectory(*api_, id_, path, ec);
}

void Transaction::setPermissions(std::string_view path, const std::vector<std::string>& perms,
                                 std::error_code& ec)
{
    if (alive(done_, ec))
        doSetPermissions(*api_, id_, path, perms, ec);
}

bool Transaction::commit(std::error_code& ec)
{
    if (!alive(done_, ec))
        return false;
    ec.clear();
    errno = 0;
    // Whatever the outcome, the transaction is over: never abort it again.
    done_ = true;
    if (api_->transactionEnd(id_, false))
        return true;
    ec = lastError();
    return false;
}

}  // namespace xenrdp::xenstore
