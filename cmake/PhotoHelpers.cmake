# photo_add_library(NAME SRCS ... DEPS ... [PUBLIC_DEPS ...])
#   One library per folder (abseil's absl_cc_library in miniature). The target is
#   photo_<NAME>, with alias photo::<NAME>. DEPS are PRIVATE: a module sees only
#   what it names, so a forbidden include is a build error, not a review note.
# photo_add_test(NAME SRCS ... DEPS ... [LABELS ...])
#   A GoogleTest executable registered with ctest through gtest_discover_tests.
# photo_test_slot(VAR)
#   This build tree's slot (0-47), hashed from its path: test servers derive
#   their ports from it, so that build trees and CI run side by side.
# photo_add_fixture(NAME SCRIPT <scripts/x.sh> LABEL <label> [START_TIMEOUT s] ENV ...)
#   Tests NAME_start / NAME_stop (`<script> start|stop` with ENV) as the setup
#   and cleanup of ctest fixture NAME: a private server for the tests that
#   require it, started once per ctest run.

set(PHOTO_WARNINGS -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
    -Wold-style-cast -Wcast-align -Wunused -Woverloaded-virtual -Wconversion
    -Wno-sign-conversion -Wnull-dereference -Wdouble-promotion -Wformat=2
    -Wimplicit-fallthrough
    # GCC 12 at -O3 reports -Wrestrict on std::string operator+ inside
    # libstdc++ (GCC bug 105329): a false positive that -Werror would turn
    # into a broken release build.
    -Wno-restrict)

# Clang has no -Wrestrict and warns about the unknown option (the fuzz build
# uses clang): GCC only.
if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  list(REMOVE_ITEM PHOTO_WARNINGS -Wno-restrict)
endif()

function(photo_apply_flags target)
  target_compile_options(${target} PRIVATE ${PHOTO_WARNINGS})
  if(PHOTO_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  if(PHOTO_SANITIZE)
    target_compile_options(${target} PRIVATE -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
    target_link_options(${target} PRIVATE -fsanitize=address,undefined)
    # GCC 12's -Wmaybe-uninitialized fires inside libstdc++ (std::regex's
    # std::function) and Boost headers once ASan instrumentation changes
    # inlining: false positives that -Werror turns into a broken build. The
    # dev and release builds keep the warning.
    if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
      target_compile_options(${target} PRIVATE -Wno-maybe-uninitialized)
    endif()
  endif()
  # fuzz/ (clang): every photo target gets libFuzzer's coverage
  # instrumentation without its main, plus ASan+UBSan.
  if(PHOTO_BUILD_FUZZERS)
    target_compile_options(${target} PRIVATE -fsanitize=fuzzer-no-link,address,undefined
                           -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
    target_link_options(${target} PRIVATE -fsanitize=address,undefined)
  endif()
endfunction()

function(photo_add_library NAME)
  cmake_parse_arguments(A "" "" "SRCS;DEPS;PUBLIC_DEPS" ${ARGN})
  add_library(photo_${NAME} STATIC ${A_SRCS})
  add_library(photo::${NAME} ALIAS photo_${NAME})
  target_include_directories(photo_${NAME} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(photo_${NAME} PRIVATE ${A_DEPS} PUBLIC ${A_PUBLIC_DEPS})
  photo_apply_flags(photo_${NAME})
endfunction()

function(photo_add_test NAME)
  cmake_parse_arguments(A "" "" "SRCS;DEPS;LABELS" ${ARGN})
  add_executable(${NAME} ${A_SRCS})
  target_link_libraries(${NAME} PRIVATE ${A_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  photo_apply_flags(${NAME})
  if(NOT A_LABELS)
    set(A_LABELS unit)
  endif()
  # `photo_unit_tests` builds just the unit tests: what the sanitizer CI job
  # needs, without the benchmarks, tools and integration binaries.
  if("unit" IN_LIST A_LABELS)
    if(NOT TARGET photo_unit_tests)
      add_custom_target(photo_unit_tests)
    endif()
    add_dependencies(photo_unit_tests ${NAME})
  endif()
  gtest_discover_tests(${NAME}
    # The ENVIRONMENT list is escaped: gtest_discover_tests would otherwise
    # read its second entry as a property name.
    PROPERTIES LABELS "${A_LABELS}"
               ENVIRONMENT "PHOTO_SOURCE_DIR=${PROJECT_SOURCE_DIR}\\;PHOTO_BINARY_DIR=${PROJECT_BINARY_DIR}"
    DISCOVERY_TIMEOUT 60)
endfunction()

function(photo_test_slot var)
  string(MD5 _hash "${PROJECT_BINARY_DIR}")
  string(SUBSTRING "${_hash}" 0 4 _hash)
  math(EXPR _slot "0x${_hash} % 48")
  set(${var} ${_slot} PARENT_SCOPE)
endfunction()

function(photo_add_fixture NAME)
  cmake_parse_arguments(A "" "SCRIPT;LABEL;START_TIMEOUT" "ENV" ${ARGN})
  if(NOT A_START_TIMEOUT)
    set(A_START_TIMEOUT 120)
  endif()
  add_test(NAME ${NAME}_start COMMAND ${PROJECT_SOURCE_DIR}/${A_SCRIPT} start)
  add_test(NAME ${NAME}_stop COMMAND ${PROJECT_SOURCE_DIR}/${A_SCRIPT} stop)
  set_tests_properties(${NAME}_start PROPERTIES FIXTURES_SETUP ${NAME} LABELS ${A_LABEL}
                       ENVIRONMENT "${A_ENV}" TIMEOUT ${A_START_TIMEOUT})
  set_tests_properties(${NAME}_stop PROPERTIES FIXTURES_CLEANUP ${NAME} LABELS ${A_LABEL}
                       ENVIRONMENT "${A_ENV}" TIMEOUT 120)
endfunction()
