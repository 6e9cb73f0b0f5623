#pragma once
/// XsApi: the small C surface of libxenstore that xenrdpd uses, behind a
/// virtual interface so unit tests can run without Xen (tests/support has a
/// FakeXsApi whose fileno() is a real pipe).  RealXsApi forwards to
/// libxenstore; <xenstore.h> is included only in its .cpp file.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace xenrdp::xenstore {

/// One opened libxenstore handle.  Every call is blocking (a request to
/// xenstored) except fileno() and checkWatch().  Failures return false /
/// nullopt and leave errno set, exactly as libxenstore does.
/// Thread safety: as libxenstore's own (requests serialize on the handle).
class XsApi {
public:
    virtual ~XsApi() = default;

    virtual std::optional<std::string> read(std::uint32_t txn, const std::string& path) = 0;
    virtual bool write(std::uint32_t txn, const std::string& path, std::string_view value) = 0;
    virtual bool remove(std::uint32_t txn, const std::string& path) = 0;
    virtual bool mkdir(std::uint32_t txn, const std::string& path) = 0;
    virtual std::optional<std::vector<std::string>> directory(std::uint32_t txn,
                                                              const std::string& path) = 0;
    /// Sets permissions from xenstore's textual form, e.g. {"n0", "r5"}.
    virtual bool setPermissions(std::uint32_t txn, const std::string& path,
                                const std::vector<std::string>& perms) = 0;
    /// Returns 0 (XBT_NULL) and sets errno on failure.
    virtual std::uint32_t transactionStart() = 0;
    virtual bool transactionEnd(std::uint32_t txn, bool abort) = 0;

    virtual bool watch(const std::string& path, const std::string& token) = 0;
    virtual bool unwatch(const std::string& path, const std::string& token) = 0;
    /// The watch pipe's read end; owned by the handle, never to be read or closed.
    virtual int fileno() = 0;
    /// Non-blocking: one queued (path, token) or nullopt with errno (EAGAIN = empty).
    virtual std::optional<std::pair<std::string, std::string>> checkWatch() = 0;

    virtual bool introduceDomain(std::uint32_t domid, unsigned long mfn, unsigned int port) = 0;
    virtual bool releaseDomain(std::uint32_t domid) = 0;
    /// Whether xenstored knows the domain (xs_is_domain_introduced): a
    /// domain stays in /local/domain after xenstored released it.
    /// nullopt with errno set if the request failed.
    virtual std::optional<bool> isDomainIntroduced(std::uint32_t domid) = 0;
};

/// Points libxenstore at `socketPath` for the rest of the process by setting
/// $XENSTORED_PATH, the only way libxenstore takes a socket path (xs_open
/// reads it).  Empty: no change (libxenstore's default, or a $XENSTORED_PATH
/// the process was started with).
///
/// Not thread-safe: setenv races with getenv in every other thread, and
/// libraries (libxenstore, PAM, the C library) call getenv at any time.  Call
/// it while the process runs a single thread, before any Connection (whose
/// pool thread opens handles) exists.  The daemon calls it once at startup.
void useXenstoreSocket(const std::string& socketPath);

/// Opens a real libxenstore handle.  `socketPath` empty means libxenstore's
/// default ($XENSTORED_PATH, else the system socket).  `unwatchFilter` asks
/// for XS_UNWATCH_FILTER (no stale events after unwatch).
/// Returns nullptr with errno set on failure.
///
/// Never edits the environment, so it may run on any thread.  A non-empty
/// `socketPath` must be the one $XENSTORED_PATH names (see useXenstoreSocket);
/// any other fails with EINVAL instead of silently opening another socket.
/// Blocking (connects to xenstored): call off the io thread.
std::unique_ptr<XsApi> openRealXsApi(const std::string& socketPath, bool unwatchFilter);

}  // namespace xenrdp::xenstore
