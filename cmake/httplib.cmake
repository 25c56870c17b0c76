# cpp-httplib as Debian builds it (libcpp-httplib-dev), the HTTP client of the server's tests and benchmark
# (the server has its own HTTP layer, src/server/http/): a shared library whose classes change layout with
# these three macros, so every user of <httplib.h> must compile with exactly the package's definitions
# (its cpp-httplib.pc Cflags).
find_path(HTTPLIB_INCLUDE_DIR httplib.h REQUIRED)
find_library(HTTPLIB_LIBRARY cpp-httplib REQUIRED)
add_library(httplib INTERFACE)
target_include_directories(httplib INTERFACE ${HTTPLIB_INCLUDE_DIR})
target_compile_definitions(httplib INTERFACE
  CPPHTTPLIB_OPENSSL_SUPPORT CPPHTTPLIB_ZLIB_SUPPORT CPPHTTPLIB_BROTLI_SUPPORT)
target_link_libraries(httplib INTERFACE ${HTTPLIB_LIBRARY} Threads::Threads)
