#include "common/log.h"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <nlohmann/json.hpp>

namespace ctrsnap {

std::string_view LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kTrace: return "trace";
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarn: return "warning";
    case LogLevel::kError: return "error";
  }
  return "info";
}

Result<LogLevel> ParseLogLevel(std::string_view name) {
  if (name == "trace") return LogLevel::kTrace;
  if (name == "debug") return LogLevel::kDebug;
  if (name == "info") return LogLevel::kInfo;
  if (name == "warn" || name == "warning") return LogLevel::kWarn;
  if (name == "error") return LogLevel::kError;
  return Status::InvalidArgument("unknown log level '" + std::string(name) +
                                 "' (trace, debug, info, warn, error)");
}

Result<Logger> Logger::Open(const LogOptions& options) {
  Logger logger;
  logger.level_ = options.level;
  logger.format_ = options.format;
  if (!options.path.empty()) {
    int fd = ::open(options.path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return Status::FromErrno(errno, "open log", options.path);
    logger.fd_.reset(fd);
  }
  return logger;
}

static std::string Rfc3339Now() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  char buf[64];
  size_t n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf + n, sizeof(buf) - n, ".%09ldZ", ts.tv_nsec);
  return buf;
}

std::string Logger::Format(LogLevel level, std::string_view message) const {
  if (format_ == LogFormat::kJson) {
    nlohmann::json line = {{"level", LogLevelName(level)},
                           {"msg", std::string(message)},
                           {"time", Rfc3339Now()}};
    return line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  }
  std::string line = Rfc3339Now();
  line += ' ';
  line += LogLevelName(level);
  line += ' ';
  line += message;
  line += '\n';
  return line;
}

void Logger::Log(LogLevel level, std::string_view message) const {
  if (!Enabled(level)) return;
  std::string line = Format(level, message);
  int fd = fd_.valid() ? fd_.get() : STDERR_FILENO;
  // One write per line keeps lines whole between threads and processes
  // sharing an O_APPEND file. A failed log write has nowhere to go.
  ssize_t ignored = ::write(fd, line.data(), line.size());
  (void)ignored;
}

namespace {
// Written once by InitProcessLogger before threads start; read-only after.
Logger& ProcessLoggerStorage() {
  static Logger logger;
  return logger;
}
}  // namespace

void InitProcessLogger(Logger logger) { ProcessLoggerStorage() = std::move(logger); }
const Logger& ProcessLogger() { return ProcessLoggerStorage(); }

void LogTrace(std::string_view m) { ProcessLogger().Log(LogLevel::kTrace, m); }
void LogDebug(std::string_view m) { ProcessLogger().Log(LogLevel::kDebug, m); }
void LogInfo(std::string_view m) { ProcessLogger().Log(LogLevel::kInfo, m); }
void LogWarn(std::string_view m) { ProcessLogger().Log(LogLevel::kWarn, m); }
void LogError(std::string_view m) { ProcessLogger().Log(LogLevel::kError, m); }

}  // namespace ctrsnap
