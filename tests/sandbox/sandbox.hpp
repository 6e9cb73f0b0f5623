#pragma once
/// XenstoredSandbox: a private instance of Debian's real C xenstored, run
/// without a hypervisor through hypervisor_shim.so, for tests, benchmarks and
/// the demo.  It lays out guest domains the way a toolstack does and
/// introduces and releases them, so xenstored fires @introduceDomain and
/// @releaseDomain for real.
///
/// It talks to xenstored with libxenstore directly, not through xenrdpd's own
/// xenstore layer, so it never shares a bug with the code under test.
/// Many sandboxes run side by side: each has its own directory and socket.
///
/// libxenstore takes its socket only from $XENSTORED_PATH, and editing the
/// environment races with every thread that reads it.  So the constructor
/// points $XENSTORED_PATH at this sandbox once, and nothing edits it later:
/// construct the sandbox before any thread starts (before a Connection, a
/// daemon part or a guest agent), and keep one sandbox per process at a time.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

struct xs_handle;

namespace xenrdp::sandbox {

struct DomainSpec {
    std::uint32_t domid = 0;
    std::string name;
    std::string uuid;   ///< empty: a random one
    bool hvm = true;    ///< writes /vm/<uuid>/image/... as an HVM guest does
};

class XenstoredSandbox {
public:
    /// Starts xenstored in `dir` (created if missing; empty = a fresh temp
    /// dir, removed by the destructor).  Waits up to 10 s for its socket.
    /// Throws std::runtime_error on failure.
    /// Sets $XENSTORED_PATH to its socket (see above): not thread-safe.
    explicit XenstoredSandbox(std::string dir = {});
    /// Attaches to an instance already running in `dir` (CLI use); never stops
    /// it.  Sets $XENSTORED_PATH like the constructor.
    static XenstoredSandbox attach(const std::string& dir);
    XenstoredSandbox(XenstoredSandbox&&) noexcept;
    XenstoredSandbox(const XenstoredSandbox&) = delete;
    XenstoredSandbox& operator=(const XenstoredSandbox&) = delete;
    ~XenstoredSandbox();

    const std::string& dir() const noexcept { return dir_; }
    /// The socket path: give it to clients as XENSTORED_PATH.
    std::string socketPath() const;
    pid_t pid() const noexcept { return pid_; }

    /// Writes /local/domain/<id>/{name,domid,vm} and /vm/<uuid>/{uuid,name}
    /// with toolstack permissions (dom0 owns, the guest may read; data/,
    /// control/, attr/, feature/ writable by the guest), then introduces the
    /// domain.  Returns the uuid.
    std::string addDomain(const DomainSpec& spec, bool introduce = true);
    /// Lays out many domains, then introduces them all (faster: xenstored's
    /// cost per request grows with the introduced domains).
    void addDomains(const std::vector<DomainSpec>& specs);
    /// Introduces a domain laid out with addDomain(spec, false); fires
    /// @introduceDomain.
    void introduceDomain(std::uint32_t domid);
    /// Toolstack shutdown: xs_release_domain (fires @releaseDomain), then
    /// removes /local/domain/<id> and, unless `removeVm` is false (a reboot
    /// whose new domain shares it), /vm/<uuid>.
    void releaseDomain(std::uint32_t domid, bool removeVm = true);
    /// Hypervisor-side death: marks the domain dying in the shim and raises
    /// VIRQ_DOM_EXC, so xenstored itself releases it and fires @releaseDomain.
    void destroyDomain(std::uint32_t domid);

    void write(const std::string& path, const std::string& value);
    std::optional<std::string> read(const std::string& path);
    void remove(const std::string& path);
    std::vector<std::string> directory(const std::string& path);

    /// SIGKILLs xenstored and waits for it to exit.
    void kill();
    /// Starts xenstored again on the same socket (an empty store, as after a crash).
    void restart();
    /// Stops xenstored (SIGTERM, then SIGKILL after 5 s).
    void stop();
    bool running() const;
    /// Leaves xenstored running and the directory in place after this object
    /// is gone (the CLI starts instances that outlive it).
    void detach() noexcept;

private:
    XenstoredSandbox(std::string dir, bool attachOnly);
    void spawn();
    void pointEnvironment() const;
    xs_handle* handle();
    void closeHandle() noexcept;

    std::string dir_;
    bool ownsDir_ = false;
    bool ownsProcess_ = true;
    pid_t pid_ = -1;
    xs_handle* xs_ = nullptr;
};

/// Path of the shim library and of xenstored, as found at build time
/// (overridable with $XENRDP_SHIM and $XENRDP_XENSTORED).
std::string shimPath();
std::string xenstoredPath();

}  // namespace xenrdp::sandbox
