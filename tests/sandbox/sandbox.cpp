#include "sandbox.hpp"

extern "C" {
#include <xenstore.h>
}

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>
#include <thread>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef XENRDP_SHIM_BUILD_PATH
#define XENRDP_SHIM_BUILD_PATH ""
#endif
#ifndef XENRDP_XENSTORED_BUILD_PATH
#define XENRDP_XENSTORED_BUILD_PATH "/usr/lib/xen-4.17/bin/xenstored"
#endif

namespace fs = std::filesystem;

namespace xenrdp::sandbox {
namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void fail(const std::string& what)
{
    throw std::runtime_error("sandbox: " + what + ": " + std::strerror(errno));
}

std::string randomUuid()
{
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    std::uniform_int_distribution<int> hex(0, 15);
    std::string out = "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx";
    for (char& c : out) {
        if (c == 'x' || c == 'y') {
            int v = hex(rng);
            if (c == 'y')
                v = (v & 0x3) | 0x8;
            c = "0123456789abcdef"[v];
        }
    }
    return out;
}

std::string envOr(const char* name, const char* fallback)
{
    const char* v = std::getenv(name);
    return (v != nullptr && *v != '\0') ? v : fallback;
}

/// Polls a condition until it holds or the deadline passes.
template <class Pred>
bool waitFor(Pred pred, std::chrono::milliseconds timeout)
{
    auto deadline = Clock::now() + timeout;
    auto step = std::chrono::milliseconds(1);
    while (!pred()) {
        if (Clock::now() >= deadline)
            return false;
        std::this_thread::sleep_for(step);
        step = std::min(step * 2, std::chrono::milliseconds(20));
    }
    return true;
}

bool socketAccepts(const std::string& path)
{
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    return ok;
}

bool processAlive(pid_t pid)
{
    if (pid <= 0)
        return false;
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid)
        return false;
    if (r == 0)
        return true;
    // Not our child (attached mode): ask the kernel.
    return ::kill(pid, 0) == 0;
}

void setPerms(xs_handle* h, xs_transaction_t t, const std::string& path,
              std::uint32_t owner, unsigned int others, std::uint32_t reader)
{
    xs_permissions perms[2];
    perms[0].id = owner;
    perms[0].perms = others;
    perms[1].id = reader;
    perms[1].perms = static_cast<unsigned int>(XS_PERM_READ);
    unsigned n = (reader == owner) ? 1 : 2;
    if (!xs_set_permissions(h, t, path.c_str(), perms, n))
        fail("set permissions on " + path);
}

void mustWrite(xs_handle* h, xs_transaction_t t, const std::string& path, const std::string& v)
{
    if (!xs_write(h, t, path.c_str(), v.data(), static_cast<unsigned>(v.size())))
        fail("write " + path);
}

/// The toolstack's part of a guest's tree (libxl/xenopsd layout).
void layoutDomain(xs_handle* h, xs_transaction_t t, const DomainSpec& spec, const std::string& uuid)
{
    const std::string dom = "/local/domain/" + std::to_string(spec.domid);
    const std::string vm = "/vm/" + uuid;
    mustWrite(h, t, dom, "");
    setPerms(h, t, dom, 0, XS_PERM_NONE, spec.domid);
    mustWrite(h, t, dom + "/name", spec.name);
    mustWrite(h, t, dom + "/domid", std::to_string(spec.domid));
    mustWrite(h, t, dom + "/vm", vm);
    // Guest-writable subtrees (owned by the guest, as the toolstack creates them).
    for (const char* sub : {"control", "data", "attr", "feature"}) {
        const std::string p = dom + "/" + sub;
        mustWrite(h, t, p, "");
        setPerms(h, t, p, spec.domid, XS_PERM_NONE, spec.domid);
    }
    // Keys xenopsd writes for every domain (reference §3.2).
    mustWrite(h, t, dom + "/control/platform-feature-multiprocessor-suspend", "1");
    mustWrite(h, t, dom + "/control/platform-feature-xs_reset_watches", "1");
    mustWrite(h, t, dom + "/control/has-vendor-device", "0");
    mustWrite(h, t, vm, "");
    setPerms(h, t, vm, 0, XS_PERM_NONE, spec.domid);
    mustWrite(h, t, vm + "/uuid", uuid);
    mustWrite(h, t, vm + "/name", spec.name);
    if (spec.hvm)
        mustWrite(h, t, vm + "/image/ostype", "hvm");
}

}  // namespace

std::string shimPath()
{
    return envOr("XENRDP_SHIM", XENRDP_SHIM_BUILD_PATH);
}

std::string xenstoredPath()
{
    return envOr("XENRDP_XENSTORED", XENRDP_XENSTORED_BUILD_PATH);
}

XenstoredSandbox::XenstoredSandbox(std::string dir) : XenstoredSandbox(std::move(dir), false) {}

XenstoredSandbox::XenstoredSandbox(std::string dir, bool attachOnly)
{
    if (dir.empty()) {
        std::string tmpl = (fs::temp_directory_path() / "xenrdp-xs-XXXXXX").string();
        if (::mkdtemp(tmpl.data()) == nullptr)
            fail("mkdtemp");
        dir_ = tmpl;
        ownsDir_ = true;
    } else {
        dir_ = fs::absolute(dir).string();
        fs::create_directories(dir_);
    }
    if (attachOnly) {
        ownsProcess_ = false;
        std::ifstream pidFile(dir_ + "/xenstored.pid");
        if (!(pidFile >> pid_))
            throw std::runtime_error("sandbox: no xenstored.pid in " + dir_);
        pointEnvironment();
        return;
    }
    pointEnvironment();
    spawn();
    // Dom0 as xen-init-dom0 lays it out.
    DomainSpec dom0{0, "Domain-0", "00000000-0000-0000-0000-000000000000", false};
    addDomain(dom0, false);
}

XenstoredSandbox XenstoredSandbox::attach(const std::string& dir)
{
    return XenstoredSandbox(dir, true);
}

XenstoredSandbox::XenstoredSandbox(XenstoredSandbox&& o) noexcept
    : dir_(std::move(o.dir_)), ownsDir_(o.ownsDir_), ownsProcess_(o.ownsProcess_), pid_(o.pid_),
      xs_(o.xs_)
{
    o.ownsDir_ = false;
    o.ownsProcess_ = false;
    o.pid_ = -1;
    o.xs_ = nullptr;
}

XenstoredSandbox::~XenstoredSandbox()
{
    closeHandle();
    if (ownsProcess_) {
        try {
            stop();
        } catch (...) {
        }
    }
    if (ownsDir_) {
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }
}

std::string XenstoredSandbox::socketPath() const
{
    return dir_ + "/socket";
}

void XenstoredSandbox::spawn()
{
    const std::string shim = shimPath();
    const std::string bin = xenstoredPath();
    if (shim.empty() || ::access(shim.c_str(), R_OK) != 0)
        throw std::runtime_error("sandbox: hypervisor shim not found at '" + shim + "'");
    if (::access(bin.c_str(), X_OK) != 0)
        throw std::runtime_error("sandbox: xenstored not found at '" + bin +
                                 "' (install xen-utils-4.17)");
    ::unlink(socketPath().c_str());
    fs::remove_all(dir_ + "/shim");

    pid_t child = ::fork();
    if (child < 0)
        fail("fork");
    if (child == 0) {
        // Child: own process group, quiet stdio, private environment.
        ::setpgid(0, 0);
        int devnull = ::open("/dev/null", O_RDWR);
        int log = ::open((dir_ + "/xenstored.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (devnull >= 0)
            ::dup2(devnull, 0);
        if (log >= 0) {
            ::dup2(log, 1);
            ::dup2(log, 2);
        }
        ::setenv("XENSTORED_RUNDIR", dir_.c_str(), 1);
        ::setenv("XENSTORED_PATH", socketPath().c_str(), 1);
        ::setenv("XENSTORED_ROOTDIR", dir_.c_str(), 1);
        ::setenv("LD_PRELOAD", shim.c_str(), 1);
        // Generous quotas: benchmarks lay out 10,000 domains and hostile-guest
        // tests write hundreds of nodes per guest.
        ::execl(bin.c_str(), bin.c_str(), "--no-fork", "--entry-nb", "8192", "--watch-nb", "1024",
                "--transaction", "64", static_cast<char*>(nullptr));
        ::_exit(127);
    }
    pid_ = child;
    {
        std::ofstream pidFile(dir_ + "/xenstored.pid", std::ios::trunc);
        pidFile << pid_ << "\n";
    }
    // Ready when the socket accepts a connection.
    const std::string sock = socketPath();
    bool up = waitFor(
        [&] {
            if (!processAlive(pid_))
                return true;
            return socketAccepts(sock);
        },
        std::chrono::seconds(10));
    if (!up || !processAlive(pid_))
        throw std::runtime_error("sandbox: xenstored did not start; see " + dir_ + "/xenstored.log");
}

void XenstoredSandbox::pointEnvironment() const
{
    ::setenv("XENSTORED_PATH", socketPath().c_str(), 1);
}

xs_handle* XenstoredSandbox::handle()
{
    if (xs_ == nullptr) {
        // xs_open() reads XENSTORED_PATH, which the constructor pointed here.
        // Never edited later: other threads (the code under test) read it.
        const char* current = std::getenv("XENSTORED_PATH");
        if (current == nullptr || socketPath() != current)
            throw std::runtime_error("sandbox: XENSTORED_PATH no longer names " + socketPath() +
                                     " (one sandbox per process at a time)");
        xs_ = xs_open(0);
        if (xs_ == nullptr)
            fail("xs_open " + socketPath());
    }
    return xs_;
}

void XenstoredSandbox::closeHandle() noexcept
{
    if (xs_ != nullptr) {
        xs_close(xs_);
        xs_ = nullptr;
    }
}

std::string XenstoredSandbox::addDomain(const DomainSpec& spec, bool introduce)
{
    // No transaction: xenstored 4.17 commits slow down sharply once many
    // domains are introduced, and nothing watches a domain before it is
    // introduced.  The daemon tolerates a half-written domain anyway.
    std::string uuid = spec.uuid.empty() ? randomUuid() : spec.uuid;
    xs_handle* h = handle();
    layoutDomain(h, XBT_NULL, spec, uuid);
    if (introduce)
        introduceDomain(spec.domid);
    return uuid;
}

void XenstoredSandbox::addDomains(const std::vector<DomainSpec>& specs)
{
    // All layouts first: xenstored's cost per request grows with the number
    // of introduced domains, so introducing each one after its own layout
    // made the layouts' ~20 requests each cost O(domains) (1,000 domains:
    // ~25 s instead of a few).
    for (const auto& spec : specs)
        addDomain(spec, false);
    for (const auto& spec : specs)
        introduceDomain(spec.domid);
}

void XenstoredSandbox::introduceDomain(std::uint32_t domid)
{
    if (!xs_introduce_domain(handle(), domid, 0, 1))
        fail("introduce domain " + std::to_string(domid));
}

void XenstoredSandbox::releaseDomain(std::uint32_t domid, bool removeVm)
{
    xs_handle* h = handle();
    const std::string dom = "/local/domain/" + std::to_string(domid);
    std::optional<std::string> vm = read(dom + "/vm");
    if (!xs_release_domain(h, domid))
        fail("release domain " + std::to_string(domid));
    xs_rm(h, XBT_NULL, dom.c_str());
    if (removeVm && vm && vm->rfind("/vm/", 0) == 0)
        xs_rm(h, XBT_NULL, vm->c_str());
}

void XenstoredSandbox::destroyDomain(std::uint32_t domid)
{
    const std::string shimDir = dir_ + "/shim";
    fs::create_directories(shimDir + "/dead");
    std::ofstream(shimDir + "/dead/" + std::to_string(domid)).put('1');
    int fd = ::open((shimDir + "/virq").c_str(), O_WRONLY | O_NONBLOCK);
    if (fd < 0)
        fail("open virq fifo");
    char byte = 1;
    ssize_t n = ::write(fd, &byte, 1);
    ::close(fd);
    if (n != 1)
        fail("raise VIRQ_DOM_EXC");
}

void XenstoredSandbox::write(const std::string& path, const std::string& value)
{
    if (!xs_write(handle(), XBT_NULL, path.c_str(), value.data(),
                  static_cast<unsigned>(value.size())))
        fail("write " + path);
}

std::optional<std::string> XenstoredSandbox::read(const std::string& path)
{
    unsigned len = 0;
    void* v = xs_read(handle(), XBT_NULL, path.c_str(), &len);
    if (v == nullptr) {
        if (errno == ENOENT)
            return std::nullopt;
        fail("read " + path);
    }
    std::string out(static_cast<const char*>(v), len);
    std::free(v);
    return out;
}

void XenstoredSandbox::remove(const std::string& path)
{
    if (!xs_rm(handle(), XBT_NULL, path.c_str()) && errno != ENOENT)
        fail("rm " + path);
}

std::vector<std::string> XenstoredSandbox::directory(const std::string& path)
{
    unsigned n = 0;
    char** names = xs_directory(handle(), XBT_NULL, path.c_str(), &n);
    std::vector<std::string> out;
    if (names == nullptr) {
        if (errno == ENOENT)
            return out;
        fail("directory " + path);
    }
    out.assign(names, names + n);
    std::free(names);
    return out;
}

void XenstoredSandbox::kill()
{
    closeHandle();
    if (pid_ > 0) {
        ::kill(pid_, SIGKILL);
        if (ownsProcess_) {
            int status = 0;
            ::waitpid(pid_, &status, 0);
        } else {
            waitFor([&] { return ::kill(pid_, 0) != 0; }, std::chrono::seconds(5));
        }
        pid_ = -1;
    }
}

void XenstoredSandbox::restart()
{
    kill();
    ownsProcess_ = true;
    spawn();
    DomainSpec dom0{0, "Domain-0", "00000000-0000-0000-0000-000000000000", false};
    addDomain(dom0, false);
}

void XenstoredSandbox::stop()
{
    closeHandle();
    if (pid_ <= 0)
        return;
    ::kill(pid_, SIGTERM);
    bool gone = waitFor([&] { return !processAlive(pid_); }, std::chrono::seconds(5));
    if (!gone) {
        ::kill(pid_, SIGKILL);
        if (ownsProcess_) {
            int status = 0;
            ::waitpid(pid_, &status, 0);
        }
    }
    pid_ = -1;
    ::unlink((dir_ + "/xenstored.pid").c_str());
}

void XenstoredSandbox::detach() noexcept
{
    ownsProcess_ = false;
    ownsDir_ = false;
}

bool XenstoredSandbox::running() const
{
    return processAlive(pid_);
}

}  // namespace xenrdp::sandbox
