#pragma once
// The one logging entry point. Implemented with spdlog in log.cpp; this header includes neither spdlog nor fmt,
// so Torch translation units (Torch ships its own fmt) can log without a header clash. Callers format the text.
#include <string>

namespace sigtrain::log {

enum class Level { kDebug, kInfo, kWarn, kError };

// Console sink (stderr) plus an optional file sink; `rank` prefixes lines in multi-process runs.
void init(Level console_level, const std::string& file_path = "", int rank = -1);
void set_console_level(Level level);

void debug(const std::string& message);
void info(const std::string& message);
void warn(const std::string& message);
void error(const std::string& message);

// The live progress line goes to stdout unprefixed, so it reads like a table and pipes cleanly.
void progress(const std::string& line);

}  // namespace sigtrain::log
