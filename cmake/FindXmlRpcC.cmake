# FindXmlRpcC: xmlrpc-c ships no pkg-config or CMake file, only xmlrpc-c-config.
# Defines the imported target XmlRpcC::XmlRpcC (the C core library and its
# bundled XML parser), which is all xenrdpd uses: the request parser.
find_path(XmlRpcC_INCLUDE_DIR NAMES xmlrpc-c/base.h)
find_library(XmlRpcC_LIBRARY NAMES xmlrpc)
find_library(XmlRpcC_UTIL_LIBRARY NAMES xmlrpc_util)
find_library(XmlRpcC_XMLPARSE_LIBRARY NAMES xmlrpc_xmlparse)
find_library(XmlRpcC_XMLTOK_LIBRARY NAMES xmlrpc_xmltok)

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(XmlRpcC
  REQUIRED_VARS XmlRpcC_LIBRARY XmlRpcC_UTIL_LIBRARY XmlRpcC_XMLPARSE_LIBRARY
                XmlRpcC_XMLTOK_LIBRARY XmlRpcC_INCLUDE_DIR)

if(XmlRpcC_FOUND AND NOT TARGET XmlRpcC::XmlRpcC)
  add_library(XmlRpcC::XmlRpcC UNKNOWN IMPORTED)
  set_target_properties(XmlRpcC::XmlRpcC PROPERTIES
    IMPORTED_LOCATION "${XmlRpcC_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${XmlRpcC_INCLUDE_DIR}"
    INTERFACE_LINK_LIBRARIES
      "${XmlRpcC_XMLPARSE_LIBRARY};${XmlRpcC_XMLTOK_LIBRARY};${XmlRpcC_UTIL_LIBRARY}")
endif()
mark_as_advanced(XmlRpcC_INCLUDE_DIR XmlRpcC_LIBRARY XmlRpcC_UTIL_LIBRARY
                 XmlRpcC_XMLPARSE_LIBRARY XmlRpcC_XMLTOK_LIBRARY)
