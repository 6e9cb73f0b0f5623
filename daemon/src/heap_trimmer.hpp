#pragma once
// HeapTrimmer: hands the C library's free heap back to the kernel a moment
// after a large response.
//
// A large response (get_all_records of 1,000 VMs, an event.from from the
// start) is built from tens of thousands of small blocks.  Once freed, glibc
// keeps them in its free lists: at 1,000 guests five such calls left the
// daemon 16 MiB larger for good, and malloc_trim(0) gave 12 MiB of it back
// (docs/PERFORMANCE.md).  Trimming walks the heap, so it runs once, a delay
// after the last large response, not per request.
//
// Threading: io executor only (noteResponse, the timer, the trim).
#include <chrono>
#include <cstddef>
#include <cstdint>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

namespace xenrdp::daemon {

class HeapTrimmer {
public:
    /// Responses of this many bytes or more arm the trim.
    static constexpr std::size_t kLargeResponse = 1024 * 1024;

    HeapTrimmer(boost::asio::any_io_executor io, std::chrono::milliseconds delay);
    HeapTrimmer(const HeapTrimmer&) = delete;
    HeapTrimmer& operator=(const HeapTrimmer&) = delete;

    /// Notes a response body of `bytes`; a large one arms the trim, `delay`
    /// from now (a trim already armed stays as it is).
    void noteResponse(std::size_t bytes);
    /// Trims done so far.
    std::uint64_t trims() const noexcept { return trims_; }
    bool armed() const noexcept { return armed_; }

private:
    boost::asio::steady_timer timer_;
    std::chrono::milliseconds delay_;
    bool armed_ = false;
    std::uint64_t trims_ = 0;
};

}  // namespace xenrdp::daemon
