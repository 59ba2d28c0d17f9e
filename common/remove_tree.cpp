#include "common/remove_tree.h"

#include <ftw.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <system_error>

namespace sigtrain {
namespace {

// nftw's callback has no user pointer; the walk is one call deep, so thread-local state is enough.
thread_local std::uintmax_t removed_count = 0;
thread_local int failed_errno = 0;
thread_local std::string failed_path;

int remove_entry(const char* entry, const struct stat*, int, struct FTW*) {
  if (std::remove(entry) != 0) {  // unlink for files and links, rmdir for (by now empty) folders
    failed_errno = errno;
    failed_path = entry;
    return 1;  // stops the walk
  }
  ++removed_count;
  return 0;
}

}  // namespace

std::uintmax_t remove_tree(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return 0;
    throw std::system_error(errno, std::generic_category(), "cannot remove " + path);
  }
  removed_count = 0;
  failed_errno = 0;
  failed_path.clear();
  // FTW_DEPTH: a folder after its contents; FTW_PHYS: links are entries, not followed.
  const int rc = ::nftw(path.c_str(), remove_entry, 16, FTW_DEPTH | FTW_PHYS);
  if (failed_errno != 0)
    throw std::system_error(failed_errno, std::generic_category(), "cannot remove " + failed_path);
  if (rc != 0) throw std::system_error(errno, std::generic_category(), "cannot walk " + path + " to remove it");
  return removed_count;
}

}  // namespace sigtrain
