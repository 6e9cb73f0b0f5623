# Sanitizer switches, applied to every target (so the whole suite runs under them).
if(XENRDP_ENABLE_TSAN AND (XENRDP_ENABLE_ASAN OR XENRDP_ENABLE_UBSAN))
  message(FATAL_ERROR "XENRDP_ENABLE_TSAN cannot be combined with ASan or UBSan")
endif()
set(_xenrdp_san "")
if(XENRDP_ENABLE_ASAN)
  list(APPEND _xenrdp_san address)
endif()
if(XENRDP_ENABLE_UBSAN)
  list(APPEND _xenrdp_san undefined)
endif()
if(XENRDP_ENABLE_TSAN)
  list(APPEND _xenrdp_san thread)
  # TSan does not model std::atomic_thread_fence (GCC 12 refuses it under
  # -Werror=tsan), and Asio's fenced_block puts one around every handler.
  # Asio hands handlers between threads under its scheduler's mutex, which
  # TSan does see, so the fence adds nothing TSan needs; Asio's own switch
  # replaces it with a no-op in this build only.
  add_compile_definitions(BOOST_ASIO_DISABLE_FENCED_BLOCK)
endif()
if(_xenrdp_san)
  list(JOIN _xenrdp_san "," _xenrdp_san_list)
  add_compile_options(-fsanitize=${_xenrdp_san_list} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${_xenrdp_san_list})
endif()

# Fuzz builds: every library gets libFuzzer's coverage instrumentation plus
# ASan and UBSan; only the fuzz/ executables link libFuzzer's main.
if(XENRDP_FUZZ)
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=all)
  add_link_options(-fsanitize=address,undefined)
endif()
