#pragma once
// Crash-safe file writes: write to a temporary file in the same directory, fsync, rename over the target.
// A reader never sees a half-written file, and a failed write leaves the previous file untouched.
#include <string>
#include <string_view>

namespace sigtrain {

void write_file_atomic(const std::string& path, std::string_view contents);
// fsync a directory so a rename inside it is durable.
void fsync_directory(const std::string& dir);
std::string read_file(const std::string& path);  // throws std::runtime_error naming the path

}  // namespace sigtrain
