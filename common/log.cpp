#include "common/log.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <mutex>

namespace sigtrain::log {
namespace {

spdlog::level::level_enum to_spdlog(Level level) {
  switch (level) {
    case Level::kDebug: return spdlog::level::debug;
    case Level::kInfo: return spdlog::level::info;
    case Level::kWarn: return spdlog::level::warn;
    case Level::kError: return spdlog::level::err;
  }
  return spdlog::level::info;
}

std::shared_ptr<spdlog::logger>& logger() {
  static std::shared_ptr<spdlog::logger> instance = [] {
    auto console = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
    auto l = std::make_shared<spdlog::logger>("sigtrain", console);
    l->set_pattern("%^[%H:%M:%S %L]%$ %v");
    l->set_level(spdlog::level::info);
    return l;
  }();
  return instance;
}

}  // namespace

void init(Level console_level, const std::string& file_path, int rank) {
  auto console = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  console->set_level(to_spdlog(console_level));
  std::vector<spdlog::sink_ptr> sinks{console};
  if (!file_path.empty()) {
    auto file = std::make_shared<spdlog::sinks::basic_file_sink_mt>(file_path, /*truncate=*/false);
    file->set_level(spdlog::level::debug);
    sinks.push_back(file);
  }
  auto l = std::make_shared<spdlog::logger>("sigtrain", sinks.begin(), sinks.end());
  std::string prefix = rank >= 0 ? "[rank " + std::to_string(rank) + "] " : "";
  l->set_pattern("%^[%Y-%m-%d %H:%M:%S %L]%$ " + prefix + "%v");
  l->set_level(spdlog::level::debug);
  l->flush_on(spdlog::level::info);
  logger() = l;
}

void set_console_level(Level level) { logger()->sinks().front()->set_level(to_spdlog(level)); }

void debug(const std::string& message) { logger()->debug(message); }
void info(const std::string& message) { logger()->info(message); }
void warn(const std::string& message) { logger()->warn(message); }
void error(const std::string& message) { logger()->error(message); }

void progress(const std::string& line) {
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  std::fputs(line.c_str(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
  for (auto& sink : logger()->sinks())
    if (dynamic_cast<spdlog::sinks::basic_file_sink_mt*>(sink.get())) {
      sink->log(spdlog::details::log_msg("sigtrain", spdlog::level::info, line));
      sink->flush();
    }
}

}  // namespace sigtrain::log
