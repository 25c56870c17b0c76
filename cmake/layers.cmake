# One static library per layer (DESIGN.md "Layers"); arrows point down only, so a layer links
# only the layers below it.
function(baleen_layer name)
  cmake_parse_arguments(L "" "" "SOURCES;DEPS" ${ARGN})
  add_library(baleen_${name} STATIC ${L_SOURCES})
  target_include_directories(baleen_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(baleen_${name} PUBLIC ${L_DEPS})
endfunction()

# One GoogleTest binary per test folder; each TEST becomes a ctest case.
function(baleen_test name)
  cmake_parse_arguments(T "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_DEPS} GTest::gtest GTest::gtest_main)
  target_compile_definitions(${name} PRIVATE BALEEN_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 PROPERTIES ENVIRONMENT "BALEEN_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
endfunction()
