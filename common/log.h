// A levelled logger that writes text lines or JSON lines (runc's
// --log-format json shape: {"level":..,"msg":..,"time":..}).
//
// Threading: Logger is safe to use from many threads; each line is written
// with one write(2). The process logger is configured once by main() before
// any thread starts (InitProcessLogger) and is not reconfigured afterwards.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"
#include "common/unique_fd.h"

namespace ctrsnap {

enum class LogLevel { kTrace = 0, kDebug, kInfo, kWarn, kError };
enum class LogFormat { kText, kJson };

std::string_view LogLevelName(LogLevel level);
Result<LogLevel> ParseLogLevel(std::string_view name);

struct LogOptions {
  LogLevel level = LogLevel::kInfo;
  LogFormat format = LogFormat::kText;
  // Empty: standard error. Otherwise the file is opened O_APPEND|O_CREAT.
  std::string path;
};

class Logger {
 public:
  Logger() = default;  // info, text, stderr
  static Result<Logger> Open(const LogOptions& options);

  bool Enabled(LogLevel level) const { return level >= level_; }
  void Log(LogLevel level, std::string_view message) const;
  // Formats one line without writing it (for tests and for callers that
  // must write through another channel).
  std::string Format(LogLevel level, std::string_view message) const;

 private:
  LogLevel level_ = LogLevel::kInfo;
  LogFormat format_ = LogFormat::kText;
  UniqueFd fd_;  // invalid: stderr
};

// REQUIRES: called from main() before other threads exist.
void InitProcessLogger(Logger logger);
const Logger& ProcessLogger();

void LogTrace(std::string_view message);
void LogDebug(std::string_view message);
void LogInfo(std::string_view message);
void LogWarn(std::string_view message);
void LogError(std::string_view message);

}  // namespace ctrsnap
