# Registers tests/fuzz-smoke.sh (label `fuzz`): it builds the libFuzzer
# targets in a build directory of its own (clang-14, -DCTRSNAP_FUZZ=ON) and runs
# each briefly over its corpus. Only where clang-14 is installed; never in the
# fuzz build itself (it would build itself recursively).
find_program(CTRSNAP_CLANGXX14 clang++-14)
if(CTRSNAP_CLANGXX14 AND NOT CTRSNAP_FUZZ)
  add_test(NAME fuzz_smoke
           COMMAND ${CMAKE_SOURCE_DIR}/tests/fuzz-smoke.sh ${CMAKE_BINARY_DIR}/fuzz-smoke)
  set_tests_properties(fuzz_smoke PROPERTIES LABELS fuzz TIMEOUT 3600)
endif()
