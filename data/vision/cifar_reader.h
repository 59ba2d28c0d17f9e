#pragma once
// CIFAR-10 / CIFAR-100 binary versions (www.cs.toronto.edu/~kriz/cifar.html), as unpacked from
// cifar-10-binary.tar.gz (folder cifar-10-batches-bin/) and cifar-100-binary.tar.gz (folder cifar-100-binary/).
//   CIFAR-10:  train = data_batch_1.bin .. data_batch_5.bin, test = test_batch.bin; records of 1 label byte + 3072
//              pixel bytes; label names (optional) one per line in batches.meta.txt.
//   CIFAR-100: train = train.bin, test = test.bin; records of coarse label byte + fine label byte + 3072 pixel bytes;
//              names (optional) in coarse_label_names.txt / fine_label_names.txt.
// The 3072 pixel bytes are three 32x32 row-major planes, R then G then B; they are stored HWC in memory.
// Errors (VisionError): missing files (all listed), a file size that is not a multiple of the record size (file,
// size, record size), a label outside the variant's classes, a names file with the wrong number of names.
#include <memory>
#include <string>

#include "data/vision/in_memory_source.h"

namespace sigtrain::vision {

enum class CifarVariant { kCifar10, kCifar100 };
enum class CifarLabels { kFine, kCoarse };  // CIFAR-100 only: 100 fine or 20 coarse classes

inline constexpr int kCifarSide = 32;
inline constexpr size_t kCifarPixelBytes = 3 * kCifarSide * kCifarSide;

// split: "train" or "test".
std::shared_ptr<InMemorySource> read_cifar(const std::string& folder, const std::string& split, CifarVariant variant,
                                           CifarLabels labels = CifarLabels::kFine);

}  // namespace sigtrain::vision
