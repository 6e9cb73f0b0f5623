// RealXsApi: XsApi forwarding to libxenstore.  The only file of the project
// (besides the test sandbox) that includes <xenstore.h>.
#include <xenstore/xs_api.hpp>

extern "C" {
#include <xenstore.h>
}

#include <cerrno>
#include <cstdlib>
#include <utility>

namespace xenrdp::xenstore {
namespace {

struct XsClose {
    void operator()(xs_handle* h) const noexcept { xs_close(h); }
};
using XsHandlePtr = std::unique_ptr<xs_handle, XsClose>;

/// Frees a malloc'd libxenstore result without disturbing errno.
struct FreeDeleter {
    void operator()(void* p) const noexcept { std::free(p); }
};

class RealXsApi final : public XsApi {
public:
    explicit RealXsApi(XsHandlePtr h) : h_(std::move(h)) {}

    std::optional<std::string> read(std::uint32_t txn, const std::string& path) override
    {
        unsigned int len = 0;
        std::unique_ptr<char, FreeDeleter> v(
            static_cast<char*>(xs_read(h_.get(), txn, path.c_str(), &len)));
        if (!v)
            return std::nullopt;
        return std::string(v.get(), len);
    }

    bool write(std::uint32_t txn, const std::string& path, std::string_view value) override
    {
        return xs_write(h_.get(), txn, path.c_str(), value.data(),
                        static_cast<unsigned int>(value.size()));
    }

    bool remove(std::uint32_t txn, const std::string& path) override
    {
        return xs_rm(h_.get(), txn, path.c_str());
    }

    bool mkdir(std::uint32_t txn, const std::string& path) override
    {
        return xs_mkdir(h_.get(), txn, path.c_str());
    }

    std::optional<std::vector<std::string>> directory(std::uint32_t txn,
                                                      const std::string& path) override
    {
        unsigned int n = 0;
        std::unique_ptr<char*, FreeDeleter> names(xs_directory(h_.get(), txn, path.c_str(), &n));
        if (!names)
            return std::nullopt;
        // One malloc'd block: the pointer array followed by the strings.
        return std::vector<std::string>(names.get(), names.get() + n);
    }

    bool setPermissions(std::uint32_t txn, const std::string& path,
                        const std::vector<std::string>& perms) override
    {
        if (perms.empty()) {
            errno = EINVAL;
            return false;
        }
        // xs_strings_to_perms parses NUL-separated entries.
        std::string joined;
        for (const auto& p : perms) {
            joined += p;
            joined.push_back('\0');
        }
        std::vector<xs_permissions> parsed(perms.size());
        if (!xs_strings_to_perms(parsed.data(), static_cast<unsigned int>(parsed.size()),
                                 joined.c_str()))
            return false;
        return xs_set_permissions(h_.get(), txn, path.c_str(), parsed.data(),
                                  static_cast<unsigned int>(parsed.size()));
    }

    std::uint32_t transactionStart() override { return xs_transaction_start(h_.get()); }

    bool transactionEnd(std::uint32_t txn, bool abort) override
    {
        return xs_transaction_end(h_.get(), txn, abort);
    }

    bool watch(const std::string& path, const std::string& token) override
    {
        return xs_watch(h_.get(), path.c_str(), token.c_str());
    }

    bool unwatch(const std::string& path, const std::string& token) override
    {
        return xs_unwatch(h_.get(), path.c_str(), token.c_str());
    }

    int fileno() override { return xs_fileno(h_.get()); }

    std::optional<std::pair<std::string, std::string>> checkWatch() override
    {
        // One malloc'd block holding both strings; NULL + errno when empty/dead.
        std::unique_ptr<char*, FreeDeleter> ev(xs_check_watch(h_.get()));
        if (!ev)
            return std::nullopt;
        return std::pair<std::string, std::string>(ev.get()[XS_WATCH_PATH],
                                                   ev.get()[XS_WATCH_TOKEN]);
    }

    bool introduceDomain(std::uint32_t domid, unsigned long mfn, unsigned int port) override
    {
        return xs_introduce_domain(h_.get(), domid, mfn, port);
    }

    bool releaseDomain(std::uint32_t domid) override { return xs_release_domain(h_.get(), domid); }

    std::optional<bool> isDomainIntroduced(std::uint32_t domid) override
    {
        // libxenstore answers false both for "F" and for a failed request;
        // only the latter sets errno (EINTR is a retried read, not a failure).
        errno = 0;
        if (xs_is_domain_introduced(h_.get(), domid))
            return true;
        if (errno != 0 && errno != EINTR)
            return std::nullopt;
        return false;
    }

private:
    XsHandlePtr h_;
};

}  // namespace

void useXenstoreSocket(const std::string& socketPath)
{
    if (!socketPath.empty())
        ::setenv("XENSTORED_PATH", socketPath.c_str(), 1);
}

std::unique_ptr<XsApi> openRealXsApi(const std::string& socketPath, bool unwatchFilter)
{
    // Only reads the environment: writers run before any thread exists.
    const char* current = std::getenv("XENSTORED_PATH");
    if (!socketPath.empty() && (current == nullptr || socketPath != current)) {
        errno = EINVAL;
        return nullptr;
    }
    XsHandlePtr h(xs_open(unwatchFilter ? XS_UNWATCH_FILTER : 0UL));
    if (!h) {
        if (errno == 0)
            errno = ECONNREFUSED;
        return nullptr;
    }
    return std::make_unique<RealXsApi>(std::move(h));
}

}  // namespace xenrdp::xenstore
