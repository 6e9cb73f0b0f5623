#pragma once
/// XML-RPC codec: request parsing (xmlrpc-c underneath, not exposed) and
/// hand-written response writing with xapi's exact bytes
/// (reference xapi-rdp-and-wire.md §7.2, xenapi-clients.md §0.6, §1.3).
///
/// All functions are pure: no shared mutable state of ours, callable from any
/// thread, nothing blocks.
#include <cstddef>
#include <string>
#include <string_view>

#include <xapi_rpc/codec/parse_result.hpp>
#include <xapi_rpc/codec/value.hpp>

namespace xenrdp::xapi_rpc::xml {

/// Bounds applied before a body reaches the XML parser.
struct XmlLimits {
    /// Larger bodies are rejected (xapi requests are a few KiB; event.from
    /// and get_all_records are small requests, big responses).
    std::size_t maxBytes = 1024 * 1024;
    /// Deepest element nesting accepted (guards the XML tree, whose freeing
    /// recurses). Value nesting is further limited to 64 by xmlrpc-c.
    std::size_t maxElementDepth = 512;
};

/// Hard ceiling for XmlLimits::maxBytes: xmlrpc-c's own (process-wide) size
/// limit is set to this once, so our per-call limit is the one that applies.
inline constexpr std::size_t maxXmlBytesCeiling = 64 * 1024 * 1024;

/// Parses an XML-RPC <methodCall>.
/// Accepts what npm xen-api, Python xmlrpc.client and XenCenter send:
/// untyped <value>text</value> and <string> (-> string), <int>/<i4>/<i8>
/// (-> int64), <boolean>, <double> (plain or with an exponent),
/// <dateTime.iso8601> (-> DateTime in xapi's
/// form "YYYYMMDDTHH:MM:SSZ"), <base64> (-> string of the decoded bytes),
/// <array>, <struct> (document order; a repeated member name keeps its first
/// position and takes the last value), <nil/>, self-closing <params />,
/// <struct />, whitespace between tags, an XML declaration with encoding.
/// Returns a ParseError (never throws except std::bad_alloc) for: bodies over
/// limits.maxBytes, any "<!DOCTYPE" or "<!ENTITY" (entity expansion / external
/// entities), malformed XML, invalid UTF-8, unknown value types, integers out
/// of range, nesting beyond the limits.
ParseResult<Call> parseCall(std::string_view body, const XmlLimits& limits = {});

/// Writes a full xapi response: a <struct> with Status "Success" and Value,
/// or Status "Failure" and ErrorDescription (array of strings).
/// Compact, no whitespace, "<?xml version=\"1.0\"?>" prefix. A failure with
/// an empty error list is written as ["INTERNAL_ERROR"]. Never throws
/// except std::bad_alloc.
std::string serializeResponse(const Outcome& outcome);

/// Writes a methodResponse whose single param is `value` itself, without
/// the Status wrapper (xapi answers system.listMethods this way).
std::string serializeBare(const Value& value);

/// Writes a <methodCall> in the same compact encoding (for tests and clients).
std::string serializeCall(const Call& call);

/// Appends one <value>...</value> in xapi's encoding:
/// strings and int64 untyped, Int32 as <i4>, <boolean>1|0</boolean>,
/// <double>%.16g</double>, <dateTime.iso8601>, <array><data>, <struct>,
/// <nil/>. Strings: & < > " escaped, bytes < 0x20 other than \t \n \r
/// dropped, invalid UTF-8 sequences replaced by U+FFFD (xapi would send them
/// raw, which strict XML parsers such as Python's reject). Member names are
/// escaped the same way (xapi leaves them raw; identical for ordinary names).
void appendValue(std::string& out, const Value& value);

}  // namespace xenrdp::xapi_rpc::xml
