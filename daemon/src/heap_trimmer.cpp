#include "heap_trimmer.hpp"

#include <malloc.h>

namespace xenrdp::daemon {

HeapTrimmer::HeapTrimmer(boost::asio::any_io_executor io, std::chrono::milliseconds delay)
    : timer_(std::move(io)), delay_(delay)
{
}

void HeapTrimmer::noteResponse(std::size_t bytes)
{
    if (bytes < kLargeResponse || armed_)
        return;
    armed_ = true;
    // After a delay: by then the response has been written and freed.
    timer_.expires_after(delay_);
    timer_.async_wait([this](const boost::system::error_code& ec) {
        if (ec)
            return;  // cancelled: the trimmer is going away (touch nothing)
        armed_ = false;
        ::malloc_trim(0);
        ++trims_;
    });
}

}  // namespace xenrdp::daemon
