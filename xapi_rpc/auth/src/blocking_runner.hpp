#pragma once

#include <xapi_rpc/auth/authenticator.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/thread_pool.hpp>

#include <cstddef>
#include <exception>
#include <utility>

namespace xenrdp::xapi_rpc::auth::detail {

/// Invokes a caller's completion; AuthDone's contract is "never throws", and
/// whatever it throws anyway must not unwind the io loop.
inline void invokeDone(AuthDone& done, AuthResult result) noexcept
{
    try {
        if (done) {
            done(std::move(result));
        }
    } catch (...) {  // NOLINT(bugprone-empty-catch): see AuthDone
    }
}

/// Runs blocking login jobs (PAM, crypt) on a small pool it owns and posts
/// each result to the io executor. The destructor stops and joins the pool:
/// a running job finishes, queued jobs are dropped with their completions.
class BlockingRunner {
public:
    BlockingRunner(boost::asio::any_io_executor io, std::size_t threads)
        : io_(std::move(io)), pool_(threads)
    {
    }
    BlockingRunner(const BlockingRunner&) = delete;
    BlockingRunner& operator=(const BlockingRunner&) = delete;
    ~BlockingRunner()
    {
        pool_.stop();
        pool_.join();
    }

    /// `job` is a move-only callable returning AuthResult; it runs on a pool
    /// thread. Callable from any thread; never blocks.
    template <typename Job>
    void run(Job job, AuthDone done)
    {
        // The tracked executor counts as outstanding work, so the io_context
        // keeps running while the job is on the pool.
        auto io = boost::asio::prefer(io_, boost::asio::execution::outstanding_work.tracked);
        boost::asio::post(pool_, [job = std::move(job), done = std::move(done),
                                  io = std::move(io)]() mutable {
            AuthResult result;
            try {
                result = job();
            } catch (...) {
                // Only resource exhaustion lands here; report a plain failure.
                result = AuthResult{false, Role::ReadOnly, "Internal error during authentication"};
            }
            // Hop back: callers expect `done` on their io executor.
            boost::asio::post(io, [done = std::move(done), result = std::move(result)]() mutable {
                invokeDone(done, std::move(result));
            });
        });
    }

private:
    boost::asio::any_io_executor io_;
    boost::asio::thread_pool pool_;
};

}  // namespace xenrdp::xapi_rpc::auth::detail
