#pragma once
/// Value: one XenAPI value, independent of the wire (XML-RPC or JSON-RPC).
///
/// The codecs turn requests into Values and Values into responses with the
/// exact bytes xapi sends (reference xapi-rdp-and-wire.md §7.2-7.3).
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace xenrdp::xapi_rpc {

class Value;

/// A struct keeps its members in insertion order (xapi's key order matters
/// to some clients, e.g. event.from's events, valid_ref_counts, token).
using Struct = std::vector<std::pair<std::string, Value>>;
using Array = std::vector<Value>;

/// A dateTime.iso8601 value, kept as its wire text ("20150101T00:00:00Z").
struct DateTime {
    std::string text;
    bool operator==(const DateTime&) const = default;
};

/// Int32 is only used where xapi sends <i4> (event.from valid_ref_counts).
struct Int32 {
    std::int32_t value = 0;
    bool operator==(const Int32&) const = default;
};

struct Nil {
    bool operator==(const Nil&) const = default;
};

class Value {
public:
    using Storage = std::variant<Nil, std::string, std::int64_t, Int32, bool, double, DateTime,
                                 Array, Struct>;

    Value() = default;
    Value(const char* s) : v_(std::string(s)) {}            // NOLINT: implicit by design
    Value(std::string s) : v_(std::move(s)) {}               // NOLINT
    Value(std::int64_t i) : v_(i) {}                         // NOLINT
    Value(int i) : v_(static_cast<std::int64_t>(i)) {}       // NOLINT
    Value(Int32 i) : v_(i) {}                                // NOLINT
    Value(bool b) : v_(b) {}                                 // NOLINT
    Value(double d) : v_(d) {}                               // NOLINT
    Value(DateTime d) : v_(std::move(d)) {}                  // NOLINT
    Value(Array a) : v_(std::move(a)) {}                     // NOLINT
    Value(Struct s) : v_(std::move(s)) {}                    // NOLINT
    Value(Nil n) : v_(n) {}                                  // NOLINT

    const Storage& storage() const noexcept { return v_; }
    Storage& storage() noexcept { return v_; }

    template <class T>
    bool is() const noexcept { return std::holds_alternative<T>(v_); }
    template <class T>
    const T* getIf() const noexcept { return std::get_if<T>(&v_); }

    bool operator==(const Value&) const = default;

private:
    Storage v_;
};

/// A decoded call: method name and positional parameters.
struct Call {
    std::string method;
    Array params;
    bool operator==(const Call&) const = default;
};

/// Either a result or a XenAPI failure [code, params...].
struct Outcome {
    bool success = true;
    Value result;                    ///< when success
    std::vector<std::string> error;  ///< when !success: code first, then params
    static Outcome ok(Value v) { return Outcome{true, std::move(v), {}}; }
    static Outcome failure(std::vector<std::string> e) { return Outcome{false, {}, std::move(e)}; }
};

}  // namespace xenrdp::xapi_rpc
