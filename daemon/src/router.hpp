#pragma once
// Router: one RequestHandler for every listener, passing each request to the
// first mounted handler whose predicate accepts it (XenAPI takes the rest).
#include <functional>
#include <utility>
#include <vector>

#include <xapi_rpc/transport/request_handler.hpp>

namespace xenrdp::daemon {

class Router final : public xapi_rpc::transport::RequestHandler {
public:
    using Predicate = std::function<bool(const xapi_rpc::transport::HttpRequest&)>;

    /// Handlers are referenced, not owned: they must outlive the router.
    void mount(Predicate accepts, xapi_rpc::transport::RequestHandler& handler)
    {
        routes_.emplace_back(std::move(accepts), &handler);
    }
    void setFallback(xapi_rpc::transport::RequestHandler& handler) { fallback_ = &handler; }

    void handle(xapi_rpc::transport::HttpRequest req, const xapi_rpc::transport::PeerInfo& peer,
                xapi_rpc::transport::Respond respond) override
    {
        for (auto& [accepts, handler] : routes_) {
            if (accepts(req)) {
                handler->handle(std::move(req), peer, std::move(respond));
                return;
            }
        }
        if (fallback_ != nullptr) {
            fallback_->handle(std::move(req), peer, std::move(respond));
            return;
        }
        respond(xapi_rpc::transport::HttpResponse{404, {{"Content-Type", "text/plain"}}, "not found\n"});
    }

private:
    std::vector<std::pair<Predicate, xapi_rpc::transport::RequestHandler*>> routes_;
    xapi_rpc::transport::RequestHandler* fallback_ = nullptr;
};

}  // namespace xenrdp::daemon
