// What the demo prints, shared by its runc and Docker modes: numbered
// sections, the commands it runs (as a user would type them), and what each
// snapshot holds and left out.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ctrsnap::demo {

void Section(int n, const std::string& title);
// "   $ ARGV..." with the program shown by name. SHORTEN: arguments
// longer than this are shown as "'...'" (a script).
void Show(const std::vector<std::string>& argv, size_t shorten = 200);
std::string Human(uint64_t bytes);
// Each line of TEXT, indented, with PREFIX ("   | ").
void PrintLines(const std::string& text, const std::string& prefix);
// The lines of TEXT that start with "[container]", indented.
void PrintContainerLines(const std::string& text);
// Snapshot SEQ's layer, counts, blocked time and what was left out, from
// `ctrsnap snapshot --json`.
void Describe(int seq, const nlohmann::json& snapshot);

}  // namespace ctrsnap::demo
