// logText: client-supplied text as one log field.
#include <xapi_rpc/transport/log_text.hpp>

#include <catch2/catch.hpp>

#include <string>

using xenrdp::xapi_rpc::transport::logText;

TEST_CASE("logText keeps an ordinary name as it is", "[transport][log]") {
  CHECK(logText("admin") == "admin");
  CHECK(logText("ops.team-1_@example.org") == "ops.team-1_@example.org");
}

TEST_CASE("logText escapes line breaks, so a client cannot start a log line", "[transport][log]") {
  const std::string shown = logText("evil\n<3>FAKE\r\n");
  CHECK(shown == "evil\\n<3>FAKE\\r\\n");
  CHECK(shown.find('\n') == std::string::npos);
  CHECK(shown.find('\r') == std::string::npos);
}

TEST_CASE("logText escapes space and backslash, so a client cannot add a field", "[transport][log]") {
  CHECK(logText("x peer=10.0.0.1") == "x\\x20peer=10.0.0.1");
  CHECK(logText("a\\x20b") == "a\\\\x20b");
  CHECK(logText("tab\there") == "tab\\there");
}

TEST_CASE("logText escapes controls, DEL, NUL and non-ASCII bytes as hex", "[transport][log]") {
  CHECK(logText(std::string("a\0b", 3)) == "a\\x00b");
  CHECK(logText("\x1b[31m\x7f") == "\\x1b[31m\\x7f");
  CHECK(logText("Jos\xc3\xa9") == "Jos\\xc3\\xa9");
  CHECK(logText("\xe2\x80\xa6") == "\\xe2\\x80\\xa6");  // the marker cannot be faked
}

TEST_CASE("logText shows at most maxBytes of the text, then says how much was left out",
          "[transport][log]") {
  CHECK(logText(std::string(64, 'a')) == std::string(64, 'a'));
  CHECK(logText(std::string(1000, 'a')) == std::string(64, 'a') + "\xe2\x80\xa6(+936 bytes)");
  CHECK(logText("abcdef", 3) == "abc\xe2\x80\xa6(+3 bytes)");
  // The bound counts input bytes: escaping may lengthen what is shown.
  CHECK(logText(std::string(10, '\n'), 2) == "\\n\\n\xe2\x80\xa6(+8 bytes)");
  CHECK(logText("", 0).empty());
}
