#pragma once
// The live per-step console line:
//   step   120/2000 | loss 2.3456 | lr 3.00e-04 | gnorm 0.812 (z +0.4) | 12.3K tok/s | MFU 31.2% | ETA 3m12s
// MFU is shown when the device's peak is known (CUDA); FLOPs per token come from the model.
#include <cmath>
#include <cstdint>
#include <string>

namespace sigtrain::trainer {

std::string format_fixed(double value, int decimals);
std::string format_count(double value);       // 12.3K, 4.56M
std::string format_duration(double seconds);  // 3m12s, 1h04m

class ProgressLine {
 public:
  ProgressLine(int64_t total_steps, double peak_flops, double flops_per_token);
  // `seconds_per_step` is the mean over the last logging window (for the ETA).
  // `grad_norm_z`: the grad norm's z-score over the monitor's window (shown as "(z +1.2)"; NaN = not shown).
  std::string format(int64_t step, double loss, double lr, double grad_norm, double tokens_per_s,
                     double seconds_per_step, double grad_norm_z = NAN);
  double mean_tokens_per_s() const { return windows_ ? tokens_per_s_sum_ / windows_ : 0.0; }

 private:
  int64_t total_steps_;
  double peak_flops_;
  double flops_per_token_;
  double tokens_per_s_sum_ = 0;
  int64_t windows_ = 0;
};

// Name of CUDA device `index` ("NVIDIA H200"), or "cuda" when it cannot be read.
std::string cuda_device_name(int index);

}  // namespace sigtrain::trainer
