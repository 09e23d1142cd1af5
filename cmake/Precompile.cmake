# Precompiled headers (CTRSNAP_PCH): nlohmann/json, GoogleTest and the STL are
# parsed once per build tree instead of once per translation unit. Measured
# with clang-14 ASan on fusefs/journal/change_journal_test.cc: a TU that only
# includes these headers costs 5.8 s of CPU, the whole TU 10.9 s without and
# 6.7 s with the PCH; most TUs include json, every test includes gtest.
#
# Two donor targets hold the PCHs; every C++ library and executable reuses one
# of them (REUSE_FROM), so each is compiled once, not once per target:
#   ctrsnap_pch_test  STL + json + gtest + gmock, for targets linking GTest
#   ctrsnap_pch_lib   STL + json, for everything else
# Reusing a PCH needs the same compile options as its donor: options are set
# globally (add_compile_options), per-target definitions are fine (clang
# applies a -D the PCH lacks as a predefine; gcc only checks macros the PCH
# uses). A target with options of its own must opt out: set its property
# CTRSNAP_NO_PCH to ON.
#
# Off by default with a compiler launcher (ccache caches no TU that uses a PCH
# unless its sloppiness is configured), and in one of CI's two trees, so that a
# missing #include still fails a build: the force-included headers hide it.
if(CMAKE_CXX_COMPILER_LAUNCHER)
  set(_ctrsnap_pch_default OFF)
else()
  set(_ctrsnap_pch_default ON)
endif()
option(CTRSNAP_PCH "Precompile the STL, nlohmann/json and GoogleTest headers" ${_ctrsnap_pch_default})
if(CTRSNAP_PCH)
  # A few targets get -pthread from their dependencies (Threads, libhs); clang
  # refuses a PCH whose -pthread differs, so every TU gets it.
  add_compile_options(-pthread)
endif()

set(CTRSNAP_PCH_LIB_HEADERS
  <algorithm> <chrono> <cstdint> <cstdio> <cstdlib> <cstring> <functional> <map> <memory>
  <optional> <set> <string> <string_view> <utility> <vector> <nlohmann/json.hpp>)

# All targets defined in DIR and below.
function(_ctrsnap_targets_below dir out)
  get_property(targets DIRECTORY ${dir} PROPERTY BUILDSYSTEM_TARGETS)
  get_property(subdirs DIRECTORY ${dir} PROPERTY SUBDIRECTORIES)
  foreach(sub IN LISTS subdirs)
    _ctrsnap_targets_below(${sub} sub_targets)
    list(APPEND targets ${sub_targets})
  endforeach()
  set(${out} ${targets} PARENT_SCOPE)
endfunction()

# Call once, after every add_subdirectory.
function(ctrsnap_precompile_headers)
  if(NOT CTRSNAP_PCH)
    return()
  endif()
  _ctrsnap_targets_below(${CMAKE_SOURCE_DIR} targets)
  set(stub ${CMAKE_BINARY_DIR}/generated/pch_stub.cc)
  file(WRITE ${stub} "// The donor of a precompiled header; see cmake/Precompile.cmake.\n")
  add_library(ctrsnap_pch_lib OBJECT ${stub})
  target_precompile_headers(ctrsnap_pch_lib PRIVATE ${CTRSNAP_PCH_LIB_HEADERS})
  add_library(ctrsnap_pch_test OBJECT ${stub})
  target_precompile_headers(ctrsnap_pch_test PRIVATE ${CTRSNAP_PCH_LIB_HEADERS}
                            <gtest/gtest.h> <gmock/gmock.h>)
  target_link_libraries(ctrsnap_pch_test PRIVATE GTest::gtest GTest::gmock)
  foreach(t IN LISTS targets)
    get_target_property(type ${t} TYPE)
    get_target_property(no_pch ${t} CTRSNAP_NO_PCH)
    if(no_pch OR NOT type MATCHES "^(STATIC_LIBRARY|EXECUTABLE|OBJECT_LIBRARY)$")
      continue()
    endif()
    get_target_property(sources ${t} SOURCES)
    list(FILTER sources INCLUDE REGEX "\\.(cc|cpp)$")
    if(NOT sources)
      continue()
    endif()
    get_target_property(libs ${t} LINK_LIBRARIES)
    if("GTest::gtest" IN_LIST libs)
      target_precompile_headers(${t} REUSE_FROM ctrsnap_pch_test)
    else()
      target_precompile_headers(${t} REUSE_FROM ctrsnap_pch_lib)
    endif()
  endforeach()
endfunction()
