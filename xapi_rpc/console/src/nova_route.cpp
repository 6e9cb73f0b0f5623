#include <xapi_rpc/console/nova_route.hpp>

#include <vector>

namespace xenrdp::xapi_rpc::console {
namespace {

bool isResource(std::string_view s)
{
    return s == "servers" || s == "console-auth-tokens" || s == "os-console-auth-tokens";
}

struct Split {
    ApiFlavor flavor = ApiFlavor::V2;
    std::vector<std::string_view> rest;  ///< from the resource name on
};

/// Splits the path, drops the version prefix and a project id; nullopt when
/// the path is not in the console space.
std::optional<Split> split(std::string_view target)
{
    const auto q = target.find_first_of("?#");
    std::string_view path = q == std::string_view::npos ? target : target.substr(0, q);
    if (path.empty() || path.front() != '/') return std::nullopt;
    path.remove_prefix(1);
    if (!path.empty() && path.back() == '/') path.remove_suffix(1);
    std::vector<std::string_view> segs;
    while (true) {
        const auto slash = path.find('/');
        segs.push_back(path.substr(0, slash));
        if (slash == std::string_view::npos) break;
        path.remove_prefix(slash + 1);
    }
    Split out;
    std::size_t i = 0;
    if (i < segs.size() && (segs[i] == "v2" || segs[i] == "v2.1")) {
        ++i;
        if (i < segs.size() && !isResource(segs[i]) && !segs[i].empty()) ++i;  // project id
    } else if (i < segs.size() && segs[i] == "v3") {
        out.flavor = ApiFlavor::V3;
        ++i;
    }
    if (i >= segs.size() || !isResource(segs[i])) return std::nullopt;
    out.rest.assign(segs.begin() + static_cast<std::ptrdiff_t>(i), segs.end());
    return out;
}

}  // namespace

bool inConsoleSpace(std::string_view target) { return split(target).has_value(); }

std::optional<NovaRoute> matchRoute(std::string_view target)
{
    auto s = split(target);
    if (!s) return std::nullopt;
    const auto& r = s->rest;
    for (const auto& seg : r)
        if (seg.empty()) return std::nullopt;
    const bool v3 = s->flavor == ApiFlavor::V3;
    if (r.size() == 3 && r[0] == "servers" && r[2] == "action")
        return NovaRoute{RouteKind::ServerAction, s->flavor, std::string(r[1])};
    if (r.size() == 3 && r[0] == "servers" && r[2] == "remote-consoles" && !v3)
        return NovaRoute{RouteKind::RemoteConsoles, s->flavor, std::string(r[1])};
    if (r.size() == 2 && (r[0] == "console-auth-tokens" || (r[0] == "os-console-auth-tokens" && !v3)))
        return NovaRoute{RouteKind::TokenGet, s->flavor, std::string(r[1])};
    if (r.size() == 3 && r[0] == "console-auth-tokens" && r[2] == "action")
        return NovaRoute{RouteKind::TokenAction, s->flavor, std::string(r[1])};
    return std::nullopt;
}

}  // namespace xenrdp::xapi_rpc::console
