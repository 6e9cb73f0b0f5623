// HeapTrimmer: when it trims, not what the C library gives back.
#include <catch2/catch.hpp>

#include <boost/asio/io_context.hpp>

#include "heap_trimmer.hpp"

using xenrdp::daemon::HeapTrimmer;
using namespace std::chrono_literals;

TEST_CASE("HeapTrimmer trims once, a delay after large responses, and never for small ones",
          "[daemon][unit]")
{
    boost::asio::io_context io;
    HeapTrimmer trimmer(io.get_executor(), 20ms);

    trimmer.noteResponse(HeapTrimmer::kLargeResponse - 1);
    CHECK_FALSE(trimmer.armed());  // nothing queued: no trim can follow

    // Three large responses in a row: one trim.
    trimmer.noteResponse(HeapTrimmer::kLargeResponse);
    trimmer.noteResponse(5 * HeapTrimmer::kLargeResponse);
    trimmer.noteResponse(HeapTrimmer::kLargeResponse);
    CHECK(trimmer.armed());
    io.restart();
    io.run();  // returns once the timer has fired: nothing else is queued
    CHECK(trimmer.trims() == 1);
    CHECK_FALSE(trimmer.armed());

    // A later large response arms it again.
    trimmer.noteResponse(2 * HeapTrimmer::kLargeResponse);
    io.restart();
    io.run();
    CHECK(trimmer.trims() == 2);
}
