// Configuration: defaults < file < flags, and every kind of bad input
// refused with a message that names the setting.
#include <daemon/config.hpp>

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <unistd.h>
#include <string>
#include <vector>

using namespace xenrdp::daemon;
namespace fs = std::filesystem;

namespace {

class TempConfig {
public:
    explicit TempConfig(const std::string& text)
    {
        std::string tmpl = (fs::temp_directory_path() / "xenrdp-config-XXXXXX").string();
        int fd = ::mkstemp(tmpl.data());
        REQUIRE(fd >= 0);
        ::close(fd);
        path_ = tmpl;
        std::ofstream(path_) << text;
    }
    ~TempConfig() { fs::remove(path_); }
    const std::string& path() const { return path_; }

private:
    std::string path_;
};


CommandLine parse(std::vector<std::string> args, const std::string& defaultConfigFile = kDefaultConfigFile)
{
    args.insert(args.begin(), "xenrdpd");
    std::vector<const char*> argv;
    for (auto& a : args)
        argv.push_back(a.c_str());
    return parseCommandLine(static_cast<int>(argv.size()), argv.data(), defaultConfigFile);
}

std::string errorOf(std::vector<std::string> args, const std::string& defaultConfigFile = kDefaultConfigFile)
{
    try {
        parse(std::move(args), defaultConfigFile);
    } catch (const ConfigError& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST_CASE("An empty config file gives the built-in defaults", "[daemon][config]")
{
    TempConfig file("");
    Config c = parse({"--config", file.path()}).config;
    CHECK(c.unixSocket == "/run/xenrdpd/xapi.sock");
    CHECK(c.listen.empty());
    CHECK(c.callPluginInterval == 10.0);
    CHECK(c.consoleProxyBaseUrl == "http://127.0.0.1:6083/");
    CHECK(c.consoleTokenTtl == 600.0);
    CHECK(c.rdpPort == 3389);
    CHECK(c.pamEnabled);
    CHECK(c.pamRoles.at("root") == "pool-admin");
}

TEST_CASE("The file overrides defaults and flags override the file", "[daemon][config]")
{
    TempConfig file("call-plugin-interval = 3\nrdp-port = 3390\nlog-level = debug\n");
    Config fromFile = parse({"--config", file.path()}).config;
    CHECK(fromFile.callPluginInterval == 3.0);
    CHECK(fromFile.rdpPort == 3390);
    CHECK(fromFile.logLevel == "debug");

    Config withFlags = parse({"--config", file.path(), "--call-plugin-interval", "0", "--log-level", "warn"}).config;
    CHECK(withFlags.callPluginInterval == 0.0);
    CHECK(withFlags.logLevel == "warn");
    CHECK(withFlags.rdpPort == 3390);
}

TEST_CASE("Repeated listen keys in the file all apply", "[daemon][config]")
{
    TempConfig file("listen = 127.0.0.1:8080\nlisten = [::1]:8081\n");
    Config c = parse({"--config", file.path()}).config;
    REQUIRE(c.listen.size() == 2);
    CHECK(c.listen[0] == HostPort{"127.0.0.1", 8080});
    CHECK(c.listen[1] == HostPort{"::1", 8081});
}

TEST_CASE("The check-config, help and version commands are recognised", "[daemon][config]")
{
    TempConfig file("");
    CHECK(parse({"--config", file.path(), "--check-config"}).action == Action::CheckConfig);
    CHECK(parse({"--help"}).action == Action::Help);
    CHECK(parse({"--version"}).action == Action::Version);
    CHECK(parse({"--help"}).helpText.find("--call-plugin-interval") != std::string::npos);
}

TEST_CASE("Bad config files are refused with a message naming the problem", "[daemon][config]")
{
    SECTION("an unknown key")
    {
        TempConfig file("no-such-setting = 1\n");
        CHECK_THAT(errorOf({"--config", file.path()}), Catch::Contains("no-such-setting"));
    }
    SECTION("a value of the wrong type")
    {
        TempConfig file("call-plugin-interval = soon\n");
        CHECK_THAT(errorOf({"--config", file.path()}), Catch::Contains("call-plugin-interval"));
    }
    SECTION("a negative interval")
    {
        TempConfig file("call-plugin-interval = -1\n");
        CHECK_THAT(errorOf({"--config", file.path()}), Catch::Contains("call-plugin-interval"));
    }
    SECTION("a bad port")
    {
        TempConfig file("listen = 127.0.0.1:70000\n");
        CHECK_THAT(errorOf({"--config", file.path()}), Catch::Contains("bad port"));
    }
    SECTION("TLS without a certificate")
    {
        TempConfig file("tls-listen = 127.0.0.1:8443\n");
        CHECK_THAT(errorOf({"--config", file.path()}), Catch::Contains("tls-cert"));
    }
    SECTION("a proxy URL with a query string")
    {
        TempConfig file("console-proxy-base-url = http://proxy:6083/?x=1\n");
        CHECK_THAT(errorOf({"--config", file.path()}), Catch::Contains("console-proxy-base-url"));
    }
    SECTION("an unknown PAM role")
    {
        TempConfig file("pam-role = alice=emperor\n");
        CHECK_THAT(errorOf({"--config", file.path()}), Catch::Contains("emperor"));
    }
    SECTION("no listener at all")
    {
        TempConfig file("unix-socket =\n");
        CHECK_THAT(errorOf({"--config", file.path()}), Catch::Contains("no listener"));
    }
    SECTION("a missing file named with --config")
    {
        CHECK_THAT(errorOf({"--config", "/nonexistent/xenrdpd.conf"}), Catch::Contains("cannot read"));
    }
    SECTION("an octal mode that is not one")
    {
        TempConfig file("unix-socket-mode = 0999\n");
        CHECK_THAT(errorOf({"--config", file.path()}), Catch::Contains("unix-socket-mode"));
    }
}

TEST_CASE("A missing default config file gives the defaults, an unreadable one is an error", "[daemon][config]")
{
    const fs::path dir = fs::temp_directory_path() / ("xenrdp-config-dir-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    struct Cleanup {
        fs::path dir;
        ~Cleanup() { fs::remove_all(dir); }
    } cleanup{dir};

    SECTION("missing: built-in defaults")
    {
        const std::string missing = (dir / "xenrdpd.conf").string();
        Config c = parse({}, missing).config;
        CHECK(c.configFile == missing);
        CHECK(c.unixSocket == "/run/xenrdpd/xapi.sock");
    }
    SECTION("a directory where the file should be")
    {
        CHECK_THAT(errorOf({}, dir.string()), Catch::Contains("cannot read config file") &&
                                                  Catch::Contains("is a directory"));
        CHECK_THAT(errorOf({"--config", dir.string()}), Catch::Contains("is a directory"));
    }
    SECTION("a file whose read fails (even for root)")
    {
        // Reading /proc/self/mem at offset 0 fails with EIO: the file is
        // there, but its content cannot be had.
        CHECK_THAT(errorOf({}, "/proc/self/mem"), Catch::Contains("cannot read config file '/proc/self/mem'"));
    }
    SECTION("the users file is parsed, not only looked for")
    {
        TempConfig users("admin:emperor:$6$salt$" + std::string(86, 'a') + "\n");
        CHECK_THAT(errorOf({"--users", users.path()}, (dir / "none.conf").string()),
                   Catch::Contains("users: " + users.path() + ":1:"));
    }
}

TEST_CASE("parseHostPort accepts host:port, [v6]:port and :port", "[daemon][config]")
{
    CHECK(parseHostPort("10.0.0.1:443") == HostPort{"10.0.0.1", 443});
    CHECK(parseHostPort("[::1]:8080") == HostPort{"::1", 8080});
    CHECK(parseHostPort(":80") == HostPort{"0.0.0.0", 80});
    CHECK_THROWS_AS(parseHostPort("nohost"), ConfigError);
    CHECK_THROWS_AS(parseHostPort("h:"), ConfigError);
    CHECK_THROWS_AS(parseHostPort("h:12x"), ConfigError);
}

TEST_CASE("listen flags replace the file's listen lines instead of adding to them", "[daemon][config]")
{
    TempConfig file("listen = 127.0.0.1:8080\n");
    Config c = parse({"--config", file.path(), "--listen", "127.0.0.1:9000", "--listen", "127.0.0.1:9001"}).config;
    REQUIRE(c.listen.size() == 2);
    CHECK(c.listen[0] == HostPort{"127.0.0.1", 9000});
    CHECK(c.listen[1] == HostPort{"127.0.0.1", 9001});
}
