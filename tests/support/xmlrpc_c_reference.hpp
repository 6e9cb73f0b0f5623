#pragma once
/// The xmlrpc-c based XML-RPC request parser, kept as a reference for tests.
#include <string_view>

#include <xapi_rpc/codec/xml_rpc.hpp>

namespace xenrdp::xapi_rpc::xml {

/// Parses a <methodCall> with xmlrpc-c; same contract as parseCall.
ParseResult<Call> parseCallWithXmlrpcC(std::string_view body, const XmlLimits& limits = {});

}  // namespace xenrdp::xapi_rpc::xml
