#pragma once
// Where and in which precision a run computes: the device of this rank and bf16 autocast.
#include <torch/types.h>

#include <optional>
#include <string>

#include "trainer/loop/device_peak.h"
#include "trainer/loop/train_config.h"

namespace sigtrain::trainer {

struct Runtime {
  torch::Device device{torch::kCPU};
  bool bf16_autocast = false;
  std::string device_name = "cpu";
  std::optional<DevicePeak> peak;
};

// Each data-parallel rank computes on its local GPU (cuda:LOCAL_RANK); a single process on cuda:0. ConfigError
// when train.device / train.precision cannot be had here.
Runtime select_runtime(const TrainConfig& train, int local_rank);

// bf16 autocast for the forward pass on CUDA (fp32 master weights and optimizer state stay fp32).
class AutocastScope {
 public:
  explicit AutocastScope(bool enabled);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool enabled_;
};

}  // namespace sigtrain::trainer
