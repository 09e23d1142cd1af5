#include "layers/demo/demo_report.h"

#include <cstdio>

namespace ctrsnap::demo {

using nlohmann::json;

void Section(int n, const std::string& title) { std::printf("\n%d. %s\n", n, title.c_str()); }

void Show(const std::vector<std::string>& argv, size_t shorten) {
  std::string line = "   $";
  for (size_t i = 0; i < argv.size(); ++i) {
    std::string shown = argv[i];
    auto slash = shown.rfind('/');
    // Programs by name, as a user would type them.
    if (i == 0 && slash != std::string::npos) {
      shown = shown.substr(slash + 1);
    }
    if (shown.size() > shorten) shown = "'...'";
    line += " " + shown;
  }
  std::printf("%s\n", line.c_str());
}

std::string Human(uint64_t n) {
  char buf[32];
  if (n >= 1000000) {
    std::snprintf(buf, sizeof(buf), "%.1f MB", static_cast<double>(n) / 1e6);
  } else if (n >= 1000) {
    std::snprintf(buf, sizeof(buf), "%.1f kB", static_cast<double>(n) / 1e3);
  } else {
    std::snprintf(buf, sizeof(buf), "%llu B", static_cast<unsigned long long>(n));
  }
  return buf;
}

void PrintLines(const std::string& text, const std::string& prefix) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    std::printf("%s%s\n", prefix.c_str(), text.substr(pos, nl - pos).c_str());
    pos = nl + 1;
  }
}

void PrintContainerLines(const std::string& text) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    std::string line = text.substr(pos, nl - pos);
    if (line.rfind("[container]", 0) == 0) std::printf("   %s\n", line.c_str());
    pos = nl + 1;
  }
}

void Describe(int seq, const json& s) {
  const json files = s.value("files", json::object());
  auto u = [&](const char* k) { return files.value(k, uint64_t{0}); };
  const json layer = s.value("layer", json::object());
  std::printf("   snapshot %d: layer %s, %s compressed; %llu files added, %llu changed, %llu deleted\n",
              seq, layer.value("digest", std::string("?")).substr(0, 19).c_str(),
              Human(layer.value("size", uint64_t{0})).c_str(),
              static_cast<unsigned long long>(u("added")),
              static_cast<unsigned long long>(u("changed")),
              static_cast<unsigned long long>(u("deleted")));
  if (s.contains("blocked_us")) {
    std::printf("   the container was blocked for %.2f ms while the generation was sealed\n"
                "   (docker commit pauses it for the whole commit)\n",
                s["blocked_us"].get<double>() / 1000.0);
  }
  const json stripped = s.value("stripped", json::array());
  if (stripped.empty()) {
    std::printf("   stripped: nothing\n");
  } else {
    std::printf("   left out of the image:\n");
    for (const auto& f : stripped) {
      std::printf("     %s\n       rule %s: %s\n", f.value("path", std::string()).c_str(),
                  f.value("rule", std::string()).c_str(), f.value("reason", std::string()).c_str());
    }
  }
}

}  // namespace ctrsnap::demo
