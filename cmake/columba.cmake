# Helpers shared by every CMakeLists.txt in the tree.

# columba_library(NAME SOURCES... DEPS ...): a static library with the project's warnings.
function(columba_library name)
  cmake_parse_arguments(A "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${A_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_compile_options(${name} PRIVATE ${COLUMBA_WARNINGS})
  target_link_libraries(${name} PUBLIC ${A_DEPS})
endfunction()

# columba_executable(NAME SOURCES... DEPS ...)
function(columba_executable name)
  cmake_parse_arguments(A "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${A_SOURCES})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR})
  target_compile_options(${name} PRIVATE ${COLUMBA_WARNINGS})
  target_link_libraries(${name} PRIVATE ${A_DEPS})
endfunction()

# columba_test(NAME SOURCES... DEPS ... [LABELS ...] [FIXTURES ...]): a GoogleTest binary
# registered with ctest as one test (labels: unit, integration, e2e).
function(columba_test name)
  if(NOT COLUMBA_TESTS)
    return()
  endif()
  cmake_parse_arguments(A "" "" "SOURCES;DEPS;LABELS;FIXTURES" ${ARGN})
  add_executable(${name} ${A_SOURCES})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR})
  target_compile_options(${name} PRIVATE ${COLUMBA_WARNINGS})
  target_link_libraries(${name} PRIVATE ${A_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  add_test(NAME ${name} COMMAND ${name})
  if(NOT A_LABELS)
    set(A_LABELS unit)
  endif()
  set_tests_properties(${name} PROPERTIES LABELS "${A_LABELS}")
  if(A_FIXTURES)
    set_tests_properties(${name} PROPERTIES FIXTURES_REQUIRED "${A_FIXTURES}"
      ENVIRONMENT "COLUMBA_TEST_STATE=${CMAKE_BINARY_DIR}/test-state;COLUMBA_BUILD_DIR=${CMAKE_BINARY_DIR}")
  endif()
endfunction()

# columba_fuzz(NAME SOURCE CORPUS_DIR DEPS ...): a libFuzzer target. Under clang with
# COLUMBA_FUZZ=ON it is a real fuzzer; otherwise it is linked with a small driver that
# replays every file of the seed corpus, and ctest runs that replay so the corpus and
# the target never rot.
function(columba_fuzz name source corpus)
  cmake_parse_arguments(A "" "" "DEPS" ${ARGN})
  if(COLUMBA_FUZZ AND CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    add_executable(${name} ${source})
    target_compile_options(${name} PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_options(${name} PRIVATE -fsanitize=fuzzer,address,undefined)
  else()
    add_executable(${name} ${source} ${PROJECT_SOURCE_DIR}/lib/base/fuzz_replay_main.cc)
  endif()
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR})
  target_compile_options(${name} PRIVATE ${COLUMBA_WARNINGS})
  target_link_libraries(${name} PRIVATE ${A_DEPS})
  if(COLUMBA_TESTS)
    if(COLUMBA_FUZZ AND CMAKE_CXX_COMPILER_ID MATCHES "Clang")
      # -runs=0: replay the corpus once; never mutate or write into the source tree.
      add_test(NAME ${name}_corpus COMMAND ${name} -runs=0 ${corpus})
    else()
      add_test(NAME ${name}_corpus COMMAND ${name} ${corpus})
    endif()
    set_tests_properties(${name}_corpus PROPERTIES LABELS "unit;fuzz")
  endif()
endfunction()

# columba_subdirs(): add every immediate subdirectory holding a CMakeLists.txt.
function(columba_subdirs)
  file(GLOB children RELATIVE ${CMAKE_CURRENT_SOURCE_DIR} ${CMAKE_CURRENT_SOURCE_DIR}/*)
  list(SORT children)
  foreach(child ${children})
    if(IS_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/${child} AND EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${child}/CMakeLists.txt)
      add_subdirectory(${child})
    endif()
  endforeach()
endfunction()
