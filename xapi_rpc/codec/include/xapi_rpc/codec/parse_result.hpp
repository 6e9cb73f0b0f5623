#pragma once
/// ParseError and ParseResult<T>: what the codecs' parsers return instead of
/// throwing (std::expected is not in g++ 12's C++20).
#include <string>
#include <utility>
#include <variant>

namespace xenrdp::xapi_rpc {

/// Why a request body was rejected. `message` is for logs and for the
/// malformed-request response body; it never echoes more than a short
/// excerpt of the input.
struct ParseError {
    std::string message;
    bool operator==(const ParseError&) const = default;
};

/// Either a parsed T or a ParseError. A plain value type: copyable, movable,
/// no shared state, usable from any thread.
/// value() on an error (or error() on a value) is a programming error and
/// throws std::bad_variant_access.
template <class T>
class ParseResult {
public:
    ParseResult(T value) : v_(std::move(value)) {}         // NOLINT: implicit by design
    ParseResult(ParseError error) : v_(std::move(error)) {} // NOLINT: implicit by design

    bool ok() const noexcept { return std::holds_alternative<T>(v_); }
    explicit operator bool() const noexcept { return ok(); }

    const T& value() const& { return std::get<T>(v_); }
    T& value() & { return std::get<T>(v_); }
    T&& value() && { return std::get<T>(std::move(v_)); }
    const ParseError& error() const { return std::get<ParseError>(v_); }

private:
    std::variant<T, ParseError> v_;
};

}  // namespace xenrdp::xapi_rpc
