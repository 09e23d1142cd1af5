// ParseRuncArgs (shim/runc_args.h) on argv from NUL-separated bytes: the
// argument vector reaches the real runtime unchanged, the command index points
// at the command, and GlobalArgs() is exactly the prefix before it.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz/fuzz_check.h"
#include "shim/runc_args.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> argv;
  std::string cur;
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == 0) {
      argv.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(static_cast<char>(data[i]));
    }
  }
  if (!cur.empty()) argv.push_back(cur);
  if (argv.size() > 64) return 0;

  auto args = ctrsnap::shim::ParseRuncArgs(argv);
  if (!args.ok()) return 0;
  FUZZ_CHECK(args->argv == argv, "argv changed on its way to the runtime");
  if (args->command_index) {
    size_t i = *args->command_index;
    FUZZ_CHECK(i < argv.size(), "command index %zu out of %zu", i, argv.size());
    FUZZ_CHECK(argv[i] == args->command, "command '%s' is not argv[%zu]='%s'",
               args->command.c_str(), i, argv[i].c_str());
    std::vector<std::string> globals = args->GlobalArgs();
    FUZZ_CHECK(globals == std::vector<std::string>(argv.begin(), argv.begin() + i),
               "GlobalArgs is not argv[0..%zu)", i);
  } else {
    FUZZ_CHECK(args->command.empty(), "a command without an index");
  }
  return 0;
}
