#pragma once
// Deleting a folder tree (a rotated checkpoint, a stale cache build) through POSIX nftw.
//
// Why not std::filesystem::remove_all: on the GPU machine (g++ 13, Ubuntu 24.04's libstdc++, LibTorch 2.11) a run
// died with SIGSEGV each time the checkpoint rotation deleted the older checkpoint with remove_all, and never when
// nothing was deleted (a 100-step probe: keep_last 1 crashed at the second checkpoint, keep_last 5 ran through;
// docs/results/vision_fmnist/README.md). The suspect is symbol interposition: libtorch_cpu.so carries and exports
// its own copy of libstdc++'s filesystem code, and a program that finds libtorch_cpu.so before libstdc++.so binds
// remove_all to that copy (LD_DEBUG=bindings shows it for a test program here), built by another compiler than
// the libstdc++ the rest of the program uses. libc's tree walk has no such double.
#include <cstdint>
#include <string>

namespace sigtrain {

// Removes `path` and, if it is a folder, everything below it; symbolic links are removed, never followed. A path
// that does not exist is not an error (returns 0). Returns the number of entries removed. Throws
// std::system_error naming the entry that could not be removed.
std::uintmax_t remove_tree(const std::string& path);

}  // namespace sigtrain
