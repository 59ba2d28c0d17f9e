#pragma once
// Dense bf16 peak FLOP/s of known accelerators, for MFU. Datasheet numbers (dense, no sparsity).
#include <optional>
#include <string>

namespace sigtrain::trainer {

struct DevicePeak {
  std::string name;       // matched family, e.g. "H200"
  double bf16_flops = 0;  // FLOP/s
};

// Matches a CUDA device name ("NVIDIA H200", "NVIDIA A100-SXM4-80GB", ...). nullopt when unknown (MFU not shown).
std::optional<DevicePeak> lookup_device_peak(const std::string& device_name);

}  // namespace sigtrain::trainer
