#pragma once
/// JSON-RPC codec (reference xapi-rdp-and-wire.md §7.3, xenapi-clients.md
/// §0.5, §1.2): request parsing with nlohmann-json (not exposed) and a direct
/// writer for responses with xapi's exact key order.
///
/// All functions are pure: no shared state, callable from any thread, nothing
/// blocks.
#include <cstddef>
#include <string>
#include <string_view>

#include <xapi_rpc/codec/parse_result.hpp>
#include <xapi_rpc/codec/value.hpp>

namespace xenrdp::xapi_rpc::json {

/// v1: no "jsonrpc" key; v2: "jsonrpc":"2.0".
enum class Version : int { v1 = 1, v2 = 2 };

/// A parsed JSON-RPC request.
struct JsonRequest {
    Call call;
    /// The id as JSON text, echoed in the response: 7 or "abc". An integer
    /// keeps its digits; a string is re-encoded (same characters, our escapes).
    std::string idJson;
    Version version = Version::v2;
};

/// Bounds applied while parsing.
struct JsonLimits {
    std::size_t maxBytes = 1024 * 1024;
    std::size_t maxDepth = 64;  ///< arrays/objects nested deeper are rejected
};

/// Parses a request as xapi does (rpclib jsonrpc.ml):
/// the body must be an object with "method" (string) and "id" (integer or
/// string, not null); "jsonrpc", when present, must be "2.0" (v2); v1 needs
/// "params" as an array; v2 takes missing/null params as [] and an object as
/// [object]. Values: string, integer (int64), float (double), bool, null
/// (Nil), array, object (Struct in document order; a repeated key keeps its
/// first position and takes the last value). Returns a ParseError, never
/// throws (except std::bad_alloc), for: size/depth over limits, malformed
/// JSON, invalid UTF-8, integers outside int64, a bad shape.
ParseResult<JsonRequest> parseRequest(std::string_view body, const JsonLimits& limits = {});

/// Writes the response for `request` (its id and version):
/// v2 success {"jsonrpc":"2.0","result":V,"id":ID} (no "error" key),
/// v2 failure {"jsonrpc":"2.0","error":{"code":1,"message":"CODE","data":[..]},"id":ID}
/// (no "result" key; "data" always present),
/// v1 success {"result":V,"error":null,"id":ID},
/// v1 failure {"result":null,"error":["CODE",..],"id":ID}.
/// A failure with an empty error list is written with code "INTERNAL_ERROR".
/// Never throws except std::bad_alloc.
std::string serializeResponse(const Outcome& outcome, const JsonRequest& request);

/// Same, from the parts of a request. `idJson` is inserted verbatim and must
/// be JSON text (as JsonRequest::idJson is); empty means null.
std::string serializeResponse(const Outcome& outcome, std::string_view idJson, Version version);

/// Body for a request that could not be parsed (no usable id or version).
/// xapi answers such requests with HTTP 500; the transport should do the
/// same and may send this body with it:
/// {"jsonrpc":"2.0","error":{"code":-32700,"message":"MALFORMED_METHOD_REQUEST","data":[reason]},"id":null}
/// (-32700 is JSON-RPC 2.0's "parse error" code; "data" is present because
/// XenCenter dereferences it unconditionally).
std::string serializeMalformedRequest(const ParseError& error);

/// Appends `value` as compact JSON: int64/Int32 -> integer, double ->
/// shortest of %.16g/%.17g that round-trips with ".0" added to integral
/// forms (Yojson's rule; non-finite -> null), DateTime -> its string, Nil ->
/// null, Struct -> object in insertion order. Invalid UTF-8 in strings is
/// replaced by U+FFFD, so the output is always valid UTF-8.
void appendValue(std::string& out, const Value& value);

/// Appends `text` as a JSON string literal (quotes included), with the same
/// escaping and UTF-8 repair as appendValue.
void appendString(std::string& out, std::string_view text);

}  // namespace xenrdp::xapi_rpc::json
