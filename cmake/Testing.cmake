# ctrsnap_add_test(NAME SOURCES a.cc b.cc LIBS lib... LABELS unit|mount|runtime|e2e)
#
# Labels select suites: `ctest -L unit` runs the tests that need no root,
# mount or daemon (and are run again under ASan/UBSan in CI).
function(ctrsnap_add_test name)
  # FILTER: a gtest filter for the tests registered here (others of the same
  # executable may be registered again with other labels, see tests/hostile).
  cmake_parse_arguments(T "" "TIMEOUT;FILTER" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  target_link_libraries(${name} PRIVATE ${T_LIBS} GTest::gtest GTest::gtest_main GTest::gmock)
  if(NOT T_LABELS)
    set(T_LABELS unit)
  endif()
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  # Tests against the shared dockerd, containerd, registry and runc state run
  # one at a time (one lock); unit and soak tests may run beside them.
  set(lock "")
  if("runtime" IN_LIST T_LABELS OR "e2e" IN_LIST T_LABELS)
    set(lock RESOURCE_LOCK ctrsnap_services)
  elseif("soak" IN_LIST T_LABELS)
    set(lock COST 100000)  # the longest: started first under ctest -j
  endif()
  set(filter "")
  if(T_FILTER)
    set(filter TEST_FILTER "${T_FILTER}")
  endif()
  gtest_discover_tests(${name} ${filter}
    PROPERTIES LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT} ${lock}
               ENVIRONMENT "CTRSNAP_BIN_DIR=${CMAKE_BINARY_DIR}/bin"
               # A second variable in ENVIRONMENT would be split into a property
               # name by gtest_discover_tests; ENVIRONMENT_MODIFICATION is its own property.
               ENVIRONMENT_MODIFICATION "CTRSNAP_SOURCE_DIR=set:${CMAKE_SOURCE_DIR}"
    DISCOVERY_TIMEOUT 60)
endfunction()
