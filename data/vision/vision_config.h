#pragma once
// The vision data section of a run config, read key by key through config::SectionReader (so unknown keys are
// errors and every resolved value is recorded). Which section it lives in is the caller's choice (e.g. `data` with
// `data.kind: vision`, or `data.vision`); the reader passed in is that section. Keys and defaults:
//
//   format: idx                   # idx | cifar10 | cifar100 | folder
//   path: .cache/sigtrain/vision/fashion-mnist   # the folder holding the files (resolved against the config file's
//                                 #   folder; the default against the working directory). idx: train-images-idx3-ubyte,
//                                 #   train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, each
//                                 #   with or without .gz; cifar10: cifar-10-batches-bin/; cifar100: cifar-100-binary/;
//                                 #   folder: the root holding <train_split>/ and <test_split>/
//   cifar100_labels: fine         # cifar100 only: fine (100 classes) | coarse (20)
//   train_split: train            # folder only: sub-folder names of the two splits
//   test_split: val
//   num_classes: 0                # idx only: 0 = max label + 1, else every label must be below it
//   class_names: []               # idx only: optional names (num_classes of them)
//   image_size: 28                # output side in pixels (square), train and eval
//   channels: 1                   # 1 | 3 (gray <-> RGB conversion, alpha dropped)
//   random_resized_crop:          # train: torchvision's RandomResizedCrop (docs/vision-data.md)
//     enabled: false
//     scale: [0.08, 1.0]          # area fraction range, 0 < min <= max <= 1
//     ratio: [0.75, 1.3333333333333333]   # aspect ratio (w / h) range, 0 < min <= max
//   pad_crop: 0                   # train, when random_resized_crop is off: zero-pad by this many pixels, random crop
//   hflip: 0.0                    # train: horizontal flip probability
//   mean: [0.5, ...]              # per channel (channels entries), of values in [0, 1]
//   std: [0.5, ...]               # per channel, > 0
//   eval_center_crop: true        # eval: resize the shorter side to image_size / eval_crop_fraction, centre crop;
//   eval_crop_fraction: 0.875     #   false: resize to image_size x image_size. Images already that size: as is
//   mixup_alpha: 0.0              # Beta(a, a) for mixup; 0 = off
//   cutmix_alpha: 0.0             # Beta(a, a) for cutmix; 0 = off
//   mix_prob: 1.0                 # probability that a batch is mixed (when an alpha is > 0)
//   mix_switch_prob: 0.5          # cutmix rather than mixup when both alphas are > 0
//   workers: 2                    # decoding / augmentation threads
//   prefetch_batches: 4           # batches prepared ahead of the trainer (bounded queue)
//
// The loader's seed is the run seed and the batch sizes are the trainer's, not keys of this section.
#include <cstdint>
#include <string>
#include <vector>

#include "common/config.h"

namespace sigtrain::vision {

struct VisionDataConfig {
  std::string format = "idx";
  std::string path;
  std::string cifar100_labels = "fine";
  std::string train_split = "train";
  std::string test_split = "val";
  int64_t num_classes = 0;
  std::vector<std::string> class_names;
  int64_t image_size = 28;
  int64_t channels = 1;
  bool random_resized_crop = false;
  double crop_scale_min = 0.08;
  double crop_scale_max = 1.0;
  double crop_ratio_min = 0.75;
  double crop_ratio_max = 4.0 / 3.0;
  int64_t pad_crop = 0;
  double hflip = 0.0;
  std::vector<double> mean;
  std::vector<double> std;
  bool eval_center_crop = true;
  double eval_crop_fraction = 0.875;
  double mixup_alpha = 0.0;
  double cutmix_alpha = 0.0;
  double mix_prob = 1.0;
  double mix_switch_prob = 0.5;
  int64_t workers = 2;
  int64_t prefetch_batches = 4;
};

inline constexpr const char* kDefaultVisionDataPath = ".cache/sigtrain/vision/fashion-mnist";

// Reads every key above from `section` (defaults as shown); ConfigError naming the key on bad values.
VisionDataConfig parse_vision_data_config(config::SectionReader& section);

}  // namespace sigtrain::vision
