#include "trainer/loop/runtime.h"

#include <ATen/autocast_mode.h>
#include <torch/torch.h>

#include "common/config.h"
#include "sigtrain/build_info.h"
#include "trainer/loop/progress.h"

namespace sigtrain::trainer {

Runtime select_runtime(const TrainConfig& t, int local_rank) {
  Runtime rt;
  const bool cuda_ok = torch::cuda::is_available();
  if (t.device == "cuda" && !cuda_ok)
    throw config::ConfigError("train.device: cuda requested but no CUDA device is available (LibTorch " +
                              std::string(build_info::kTorchVersion) +
                              (build_info::kTorchCuda ? ", built with CUDA" : ", built without CUDA") +
                              "); use train.device=cpu or auto");
  if (t.device == "cuda" || (t.device == "auto" && cuda_ok)) {
    if (local_rank >= static_cast<int>(torch::cuda::device_count()))
      throw config::ConfigError("LOCAL_RANK " + std::to_string(local_rank) + " needs a GPU cuda:" +
                                std::to_string(local_rank) + " but only " +
                                std::to_string(torch::cuda::device_count()) +
                                " CUDA device(s) are visible; start at most that many ranks per node");
    rt.device = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(local_rank));
    rt.device_name = cuda_device_name(local_rank);
    rt.peak = lookup_device_peak(rt.device_name);
  }
  if (t.precision == "bf16" && rt.device.is_cpu())
    throw config::ConfigError("train.precision: bf16 autocast is for CUDA runs; use fp32 (or auto) on CPU");
  rt.bf16_autocast = rt.device.is_cuda() && (t.precision == "bf16" || t.precision == "auto");
  return rt;
}

AutocastScope::AutocastScope(bool enabled) : enabled_(enabled) {
  if (!enabled_) return;
  at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
  at::autocast::set_autocast_enabled(at::kCUDA, true);
}

AutocastScope::~AutocastScope() {
  if (!enabled_) return;
  at::autocast::set_autocast_enabled(at::kCUDA, false);
  at::autocast::clear_cache();
}

}  // namespace sigtrain::trainer
