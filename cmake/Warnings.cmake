# xenrdp_options: the compile options every target of the project links PRIVATE.
add_library(xenrdp_options INTERFACE)
target_compile_features(xenrdp_options INTERFACE cxx_std_20)
target_compile_options(xenrdp_options INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion
    -Wnon-virtual-dtor -Wold-style-cast -Woverloaded-virtual -Wformat=2
    -Wimplicit-fallthrough>
  $<$<COMPILE_LANGUAGE:C>:-Wall -Wextra>
  $<$<BOOL:${XENRDP_WARNINGS_AS_ERRORS}>:-Werror>)
