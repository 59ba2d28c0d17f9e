#pragma once
// From a parsed VisionDataConfig to sources, transforms and loader options.
#include <memory>

#include "data/vision/eval_set.h"
#include "data/vision/image_loader.h"
#include "data/vision/vision_config.h"

namespace sigtrain::vision {

enum class VisionSplit { kTrain, kTest };

// Opens the split's images (IDX / CIFAR: read into memory now; folder: scanned now, decoded on load()). A missing
// default data folder names scripts/fetch_vision_data.sh.
std::shared_ptr<const ImageSource> open_vision_source(const VisionDataConfig& config, VisionSplit split);

TrainTransformOptions train_transform_options(const VisionDataConfig& config);
EvalTransformOptions eval_transform_options(const VisionDataConfig& config);
MixOptions mix_options(const VisionDataConfig& config);
LoaderOptions loader_options(const VisionDataConfig& config, uint64_t seed, int64_t global_batch,
                             int64_t micro_batch, int rank, int world);

}  // namespace sigtrain::vision
