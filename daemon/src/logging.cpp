#include <daemon/logging.hpp>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <array>
#include <sstream>
#include <stdexcept>

namespace xenrdp::daemon {
namespace {

/// "%*": the syslog priority prefix journald reads (sd-daemon(3)).
class SyslogPriorityFlag final : public spdlog::custom_flag_formatter {
public:
    void format(const spdlog::details::log_msg& msg, const std::tm&,
                spdlog::memory_buf_t& dest) override
    {
        static constexpr std::array<const char*, 7> kPrefix = {
            "<7>",  // trace -> debug
            "<7>",  // debug
            "<6>",  // info
            "<4>",  // warn
            "<3>",  // err
            "<2>",  // critical
            "<6>",  // off (never printed)
        };
        const char* p = kPrefix[static_cast<std::size_t>(msg.level)];
        dest.append(p, p + 3);
    }
    std::unique_ptr<custom_flag_formatter> clone() const override
    {
        return std::make_unique<SyslogPriorityFlag>();
    }
};

spdlog::level::level_enum parseLevel(const std::string& s)
{
    auto lvl = spdlog::level::from_str(s);
    // from_str maps anything unknown to "off": only accept real names.
    if (lvl == spdlog::level::off && s != "off")
        throw std::invalid_argument("unknown log level '" + s + "'");
    return lvl;
}

}  // namespace

Loggers::Loggers(bool journal, const std::string& levels)
{
    sink_ = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    auto formatter = std::make_unique<spdlog::pattern_formatter>();
    if (journal)
        formatter->add_flag<SyslogPriorityFlag>('*').set_pattern("%*%n: %v");
    else
        formatter->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%-5l%$ %n: %v");
    sink_->set_formatter(std::move(formatter));
    daemon_ = make("daemon");
    xenstore_ = make("xenstore");
    engine_ = make("engine");
    rpc_ = make("rpc");
    http_ = make("http");
    console_ = make("console");
    setLevels(levels);
}

std::shared_ptr<spdlog::logger> Loggers::make(const std::string& name)
{
    auto logger = std::make_shared<spdlog::logger>(name, sink_);
    logger->flush_on(spdlog::level::trace);
    return logger;
}

void Loggers::setLevels(const std::string& levels)
{
    // Parse everything first, apply only if all of it is valid.
    spdlog::level::level_enum global = spdlog::level::info;
    std::vector<std::pair<std::shared_ptr<spdlog::logger>, spdlog::level::level_enum>> perModule;
    const std::array<std::shared_ptr<spdlog::logger>*, 6> all = {&daemon_, &xenstore_, &engine_,
                                                                 &rpc_,    &http_,     &console_};
    std::stringstream ss(levels);
    std::string item;
    while (std::getline(ss, item, ',')) {
        if (item.empty())
            continue;
        auto eq = item.find('=');
        if (eq == std::string::npos) {
            global = parseLevel(item);
            continue;
        }
        const std::string module = item.substr(0, eq);
        auto level = parseLevel(item.substr(eq + 1));
        bool found = false;
        for (auto* l : all) {
            if ((*l)->name() == module) {
                perModule.emplace_back(*l, level);
                found = true;
            }
        }
        if (!found)
            throw std::invalid_argument("unknown log module '" + module + "'");
    }
    for (auto* l : all)
        (*l)->set_level(global);
    for (auto& [logger, level] : perModule)
        logger->set_level(level);
}

}  // namespace xenrdp::daemon
