#pragma once
/// Test helper: runs an io_context until a condition holds or a deadline
/// passes (no fixed sleeps).  Returns whether the condition held.
#include <chrono>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/execution.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/prefer.hpp>

namespace xenrdp::test {

template <class Pred>
bool runUntil(boost::asio::io_context& io, Pred pred,
              std::chrono::milliseconds timeout = std::chrono::seconds(5))
{
    // The guard keeps run_one_for waiting while work is on another thread.
    const boost::asio::any_io_executor guard = boost::asio::prefer(
        io.get_executor(), boost::asio::execution::outstanding_work.tracked);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!pred()) {
        if (std::chrono::steady_clock::now() >= deadline)
            return false;
        if (io.stopped())
            io.restart();
        io.run_one_for(std::chrono::milliseconds(10));
    }
    return true;
}

}  // namespace xenrdp::test
