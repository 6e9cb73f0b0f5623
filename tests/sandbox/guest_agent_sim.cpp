// xenrdp-guest-agent: a simulated Windows guest agent (win-xenguestagent's
// terminal-services features), talking to a sandbox xenstored the way the
// real agent talks to xenstore from inside domain N.
//
//   --agent current   advertises control/feature-ts and control/feature-ts2;
//                     writes data/ts whenever it is missing; on control/ts =
//                     "1"/"0" acknowledges by deleting control/ts, switches
//                     RDP, then reports the new state in data/ts (what the
//                     agent does since 2014, reference §6)
//   --agent legacy    as `current`, but reports by deleting data/ts and
//                     letting its own watch rewrite it (the seed document's
//                     description of the protocol)
//   --agent old       advertises only control/feature-ts: it obeys control/ts
//                     but never reports through data/ts
//
// Other options: --socket PATH (else $XENSTORED_PATH), --domid N, --rdp 0|1
// (initial state), --ip ADDR (attr/vif/0/ipv4/0), --ipv6 ADDR
// (attr/vif/0/ipv6/0), --net-layout vif|legacy (legacy: attr/eth0/ip and
// attr/eth0/ipv6/0/addr instead, as older agents write), --os-name TEXT
// (data/os_name), --pv-version MAJ.MIN.MICRO (attr/PVAddons).
// Prints "ready" once its keys are written.  SIGTERM/SIGINT: removes its
// advertisement keys (as the agent's service stop does) and exits 0.
extern "C" {
#include <xenstore.h>
}

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include <poll.h>
#include <unistd.h>

namespace {

volatile std::sig_atomic_t g_stop = 0;

void onSignal(int)
{
    g_stop = 1;
}

struct Options {
    std::string socket;
    unsigned domid = 0;
    std::string agent = "current";
    bool rdp = false;
    std::string ip;
    std::string ipv6;
    bool legacyNet = false;
    std::string osName;
    std::string pvVersion;
};

class Agent {
public:
    Agent(xs_handle* h, Options opt) : h_(h), opt_(std::move(opt)), rdp_(opt_.rdp)
    {
        base_ = "/local/domain/" + std::to_string(opt_.domid);
    }

    bool reportsState() const { return opt_.agent != "old"; }

    void start()
    {
        if (!opt_.osName.empty())
            write("data/os_name", opt_.osName);
        if (!opt_.ip.empty())
            write(opt_.legacyNet ? "attr/eth0/ip" : "attr/vif/0/ipv4/0", opt_.ip);
        if (!opt_.ipv6.empty())
            write(opt_.legacyNet ? "attr/eth0/ipv6/0/addr" : "attr/vif/0/ipv6/0", opt_.ipv6);
        if (!opt_.pvVersion.empty()) {
            unsigned maj = 0, min = 0, micro = 0;
            std::sscanf(opt_.pvVersion.c_str(), "%u.%u.%u", &maj, &min, &micro);
            write("attr/PVAddons/MajorVersion", std::to_string(maj));
            write("attr/PVAddons/MinorVersion", std::to_string(min));
            write("attr/PVAddons/MicroVersion", std::to_string(micro));
            write("attr/PVAddons/BuildVersion", "0");
        }
        // Registration order of the real agent: the ts2 (reset) feature first.
        if (reportsState()) {
            watch("data/ts", "data-ts");
            write("control/feature-ts2", "1");
        }
        watch("control/ts", "control-ts");
        write("control/feature-ts", "1");
        if (reportsState())
            onDataTs();
    }

    void stop()
    {
        // Service stop removes the advertisement keys.
        remove("control/feature-ts");
        if (reportsState())
            remove("control/feature-ts2");
    }

    void onEvent(const std::string& token)
    {
        if (token == "control-ts")
            onControlTs();
        else if (token == "data-ts")
            onDataTs();
    }

private:
    void onControlTs()
    {
        std::optional<std::string> v = read("control/ts");
        if (!v)
            return;  // our own delete, or a spurious firing
        remove("control/ts");  // acknowledge
        char* end = nullptr;
        long n = std::strtol(v->c_str(), &end, 10);
        if (v->empty() || end == nullptr || *end != '\0')
            return;  // not an integer: ignored, as Int32.Parse fails in the agent
        rdp_ = n != 0;
        if (opt_.agent == "current")
            write("data/ts", rdp_ ? "1" : "0");
        else if (opt_.agent == "legacy")
            remove("data/ts");
    }

    void onDataTs()
    {
        if (!read("data/ts"))
            write("data/ts", rdp_ ? "1" : "0");
    }

    std::optional<std::string> read(const std::string& rel)
    {
        unsigned len = 0;
        void* p = xs_read(h_, XBT_NULL, (base_ + "/" + rel).c_str(), &len);
        if (p == nullptr)
            return std::nullopt;
        std::string out(static_cast<const char*>(p), len);
        std::free(p);
        return out;
    }

    void write(const std::string& rel, const std::string& value)
    {
        const std::string path = base_ + "/" + rel;
        if (!xs_write(h_, XBT_NULL, path.c_str(), value.data(), static_cast<unsigned>(value.size())))
            std::perror(("xenrdp-guest-agent: write " + path).c_str());
    }

    void remove(const std::string& rel)
    {
        xs_rm(h_, XBT_NULL, (base_ + "/" + rel).c_str());
    }

    void watch(const std::string& rel, const std::string& token)
    {
        const std::string path = base_ + "/" + rel;
        if (!xs_watch(h_, path.c_str(), token.c_str()))
            std::perror(("xenrdp-guest-agent: watch " + path).c_str());
    }

    xs_handle* h_;
    Options opt_;
    std::string base_;
    bool rdp_;
};

bool parse(int argc, char** argv, Options& opt)
{
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto next = [&](std::string& out) {
            if (i + 1 >= argc)
                return false;
            out = argv[++i];
            return true;
        };
        std::string v;
        if (a == "--socket" && next(v))
            opt.socket = v;
        else if (a == "--domid" && next(v))
            opt.domid = static_cast<unsigned>(std::strtoul(v.c_str(), nullptr, 10));
        else if (a == "--agent" && next(v) && (v == "current" || v == "legacy" || v == "old"))
            opt.agent = v;
        else if (a == "--rdp" && next(v))
            opt.rdp = v == "1";
        else if (a == "--ip" && next(v))
            opt.ip = v;
        else if (a == "--ipv6" && next(v))
            opt.ipv6 = v;
        else if (a == "--net-layout" && next(v) && (v == "vif" || v == "legacy"))
            opt.legacyNet = v == "legacy";
        else if (a == "--os-name" && next(v))
            opt.osName = v;
        else if (a == "--pv-version" && next(v))
            opt.pvVersion = v;
        else
            return false;
    }
    return opt.domid != 0;
}

}  // namespace

int main(int argc, char** argv)
{
    Options opt;
    if (!parse(argc, argv, opt)) {
        std::cerr << "usage: xenrdp-guest-agent --domid N [--socket PATH] "
                     "[--agent current|legacy|old] [--rdp 0|1] [--ip ADDR] [--ipv6 ADDR] "
                     "[--net-layout vif|legacy] [--os-name TEXT] [--pv-version A.B.C]\n";
        return 2;
    }
    if (!opt.socket.empty())
        ::setenv("XENSTORED_PATH", opt.socket.c_str(), 1);
    xs_handle* h = xs_open(0);
    if (h == nullptr) {
        std::perror("xenrdp-guest-agent: xs_open");
        return 1;
    }
    std::signal(SIGTERM, onSignal);
    std::signal(SIGINT, onSignal);

    Agent agent(h, opt);
    agent.start();
    std::cout << "ready" << std::endl;

    // Wait on the watch fd with a poll() that signals can interrupt, then
    // drain with xs_check_watch (never blocking inside libxenstore).
    int fd = xs_fileno(h);
    while (g_stop == 0) {
        pollfd pfd{fd, POLLIN, 0};
        int r = ::poll(&pfd, 1, 1000);
        if (r < 0)
            continue;  // EINTR: re-check g_stop
        for (;;) {
            char** ev = xs_check_watch(h);
            if (ev == nullptr)
                break;
            std::string token = ev[XS_WATCH_TOKEN];
            std::free(ev);
            agent.onEvent(token);
        }
    }
    agent.stop();
    xs_close(h);
    return 0;
}
