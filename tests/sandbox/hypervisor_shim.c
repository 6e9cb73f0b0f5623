/*
 * hypervisor_shim.c - lets Debian's C xenstored run without a hypervisor.
 *
 * Loaded with LD_PRELOAD into /usr/lib/xen-4.17/bin/xenstored, it defines
 * the few libxenctrl, libxenevtchn and libxengnttab entry points xenstored
 * calls, and redirects its open() of /proc/xen/xsd_port and
 * /proc/xen/xsd_kva to files in the sandbox directory.  Everything else -
 * the store, permissions, transactions, watches, quotas, the Unix socket
 * protocol - is the real xenstored.
 *
 * The sandbox directory is $XENSTORED_RUNDIR.  Below it, shim/ holds:
 *   xsd_port   the event channel "port" of dom0's ring (text, "1")
 *   xsd_kva    one zeroed page standing in for dom0's ring page
 *   virq       a FIFO; a byte written to it raises VIRQ_DOM_EXC, which makes
 *              xenstored re-check every domain with xc_domain_getinfo()
 *   dead/<id>  present: domain <id> is reported as dying (so the next
 *              VIRQ_DOM_EXC makes xenstored release it and fire
 *              @releaseDomain, as on a real host)
 * Every other domid is reported as a live domain, so xs_introduce_domain()
 * accepts any guest the test lays out.
 *
 * Guest rings are zeroed anonymous pages: the test's guests talk to
 * xenstored through the privileged socket, never through a ring, so
 * xenstored always finds their rings empty.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xenctrl.h>
#include <xenevtchn.h>
#include <xengnttab.h>

#define SHIM_VIRQ_PORT 1023

static int g_virq_fd = -1;
static int g_next_port = 10;
static int g_dummy_handle;

static const char *shim_dir(void)
{
    static char dir[PATH_MAX];
    if (dir[0] == '\0') {
        const char *rundir = getenv("XENSTORED_RUNDIR");
        if (rundir == NULL || rundir[0] == '\0')
            rundir = "/tmp";
        snprintf(dir, sizeof dir, "%s/shim", rundir);
        mkdir(dir, 0700);
        char dead[PATH_MAX];
        snprintf(dead, sizeof dead, "%s/dead", dir);
        mkdir(dead, 0700);
    }
    return dir;
}

static int (*real_open_fn(void))(const char *, int, ...)
{
    static int (*fn)(const char *, int, ...);
    if (fn == NULL)
        fn = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, "open");
    return fn;
}

/* Creates the stand-in file for a /proc/xen node if missing and returns its path. */
static const char *stand_in(const char *name, const char *content, size_t size)
{
    static char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", shim_dir(), name);
    int fd = real_open_fn()(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
        if (content != NULL && write(fd, content, strlen(content)) < 0)
            perror("hypervisor_shim: write");
        if (size > 0 && ftruncate(fd, (off_t)size) < 0)
            perror("hypervisor_shim: ftruncate");
        close(fd);
    }
    return path;
}

static const char *redirect(const char *path)
{
    if (strcmp(path, "/proc/xen/xsd_port") == 0)
        return stand_in("xsd_port", "1", 0);
    if (strcmp(path, "/proc/xen/xsd_kva") == 0)
        return stand_in("xsd_kva", NULL, (size_t)sysconf(_SC_PAGESIZE));
    return path;
}

int open(const char *path, int flags, ...)
{
    mode_t mode = 0;
    if (flags & (O_CREAT | O_TMPFILE)) {
        va_list ap;
        va_start(ap, flags);
        mode = (mode_t)va_arg(ap, int);
        va_end(ap);
    }
    return real_open_fn()(redirect(path), flags, mode);
}

int open64(const char *path, int flags, ...)
{
    mode_t mode = 0;
    if (flags & (O_CREAT | O_TMPFILE)) {
        va_list ap;
        va_start(ap, flags);
        mode = (mode_t)va_arg(ap, int);
        va_end(ap);
    }
    return real_open_fn()(redirect(path), flags, mode);
}

/* ---- libxenctrl ---- */

xc_interface *xc_interface_open(xentoollog_logger *logger, xentoollog_logger *dombuild_logger,
                                unsigned open_flags)
{
    (void)logger; (void)dombuild_logger; (void)open_flags;
    return (xc_interface *)&g_dummy_handle;
}

int xc_interface_close(xc_interface *xch)
{
    (void)xch;
    return 0;
}

static int domain_is_dead(uint32_t domid)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/dead/%u", shim_dir(), domid);
    return access(path, F_OK) == 0;
}

int xc_domain_getinfo(xc_interface *xch, uint32_t first_domid, unsigned int max_doms,
                      xc_dominfo_t *info)
{
    (void)xch;
    if (max_doms == 0)
        return 0;
    if (first_domid >= DOMID_FIRST_RESERVED)
        return 0;
    memset(info, 0, sizeof *info);
    info->domid = first_domid;
    info->running = 1;
    if (domain_is_dead(first_domid)) {
        info->dying = 1;
        info->shutdown = 1;
    }
    return 1;
}

/* ---- libxenevtchn ---- */

static int virq_fd(void)
{
    if (g_virq_fd < 0) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/virq", shim_dir());
        if (mkfifo(path, 0600) < 0 && errno != EEXIST)
            perror("hypervisor_shim: mkfifo");
        /* O_RDWR keeps the FIFO open for writing too, so it never reports EOF. */
        g_virq_fd = real_open_fn()(path, O_RDWR | O_NONBLOCK | O_CLOEXEC, 0);
        if (g_virq_fd < 0)
            perror("hypervisor_shim: open virq");
    }
    return g_virq_fd;
}

xenevtchn_handle *xenevtchn_open(xentoollog_logger *logger, unsigned open_flags)
{
    (void)logger; (void)open_flags;
    virq_fd();
    return (xenevtchn_handle *)&g_dummy_handle;
}

xenevtchn_handle *xenevtchn_fdopen(xentoollog_logger *logger, int fd, unsigned open_flags)
{
    (void)fd;
    return xenevtchn_open(logger, open_flags);
}

int xenevtchn_close(xenevtchn_handle *xce)
{
    (void)xce;
    return 0;
}

int xenevtchn_fd(xenevtchn_handle *xce)
{
    (void)xce;
    return virq_fd();
}

int xenevtchn_notify(xenevtchn_handle *xce, evtchn_port_t port)
{
    (void)xce; (void)port;
    return 0;
}

xenevtchn_port_or_error_t xenevtchn_bind_virq(xenevtchn_handle *xce, unsigned int virq)
{
    (void)xce; (void)virq;
    return SHIM_VIRQ_PORT;
}

xenevtchn_port_or_error_t xenevtchn_bind_interdomain(xenevtchn_handle *xce, uint32_t domid,
                                                     evtchn_port_t remote_port)
{
    (void)xce; (void)domid; (void)remote_port;
    return g_next_port++;
}

int xenevtchn_unbind(xenevtchn_handle *xce, evtchn_port_t port)
{
    (void)xce; (void)port;
    return 0;
}

xenevtchn_port_or_error_t xenevtchn_pending(xenevtchn_handle *xce)
{
    (void)xce;
    char buf[64];
    /* Drain every queued kick at once: one re-check covers them all. */
    while (read(virq_fd(), buf, sizeof buf) > 0) {
    }
    return SHIM_VIRQ_PORT;
}

int xenevtchn_unmask(xenevtchn_handle *xce, evtchn_port_t port)
{
    (void)xce; (void)port;
    return 0;
}

/* ---- libxengnttab ---- */

xengnttab_handle *xengnttab_open(xentoollog_logger *logger, unsigned open_flags)
{
    (void)logger; (void)open_flags;
    return (xengnttab_handle *)&g_dummy_handle;
}

int xengnttab_close(xengnttab_handle *xgt)
{
    (void)xgt;
    return 0;
}

int xengnttab_set_max_grants(xengnttab_handle *xgt, uint32_t nr_grants)
{
    (void)xgt; (void)nr_grants;
    return 0;
}

void *xengnttab_map_grant_ref(xengnttab_handle *xgt, uint32_t domid, uint32_t ref, int prot)
{
    (void)xgt; (void)domid; (void)ref;
    void *page = mmap(NULL, (size_t)sysconf(_SC_PAGESIZE), prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return page == MAP_FAILED ? NULL : page;
}

int xengnttab_unmap(xengnttab_handle *xgt, void *start_address, uint32_t count)
{
    (void)xgt;
    return munmap(start_address, (size_t)count * (size_t)sysconf(_SC_PAGESIZE));
}
