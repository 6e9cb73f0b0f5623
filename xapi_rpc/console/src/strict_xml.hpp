#pragma once
// A deliberately tiny XML reader for the one-element bodies of Nova's 2014
// XML API.  No XML DOM library is available (xmlrpc-c is not one, libxml2 is
// not a dependency), and these bodies need none: anything beyond one empty
// element with attributes is refused, which also shuts out DOCTYPE/ENTITY
// expansion attacks by construction.
#include <map>
#include <string>
#include <string_view>
#include <variant>

namespace xenrdp::xapi_rpc::console::detail {

struct XmlElement {
    std::string name;
    std::map<std::string, std::string> attributes;  ///< decoded values, xmlns* left out
};

/// The root element, or an error message.  Pure; never throws except bad_alloc.
std::variant<XmlElement, std::string> parseSingleElement(std::string_view text);

/// Escapes & < > " ' for element content and attribute values.
std::string xmlEscape(std::string_view text);

}  // namespace xenrdp::xapi_rpc::console::detail
