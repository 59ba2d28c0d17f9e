#include "trainer/loop/progress.h"

#include <cmath>
#include <cstdio>

#if defined(SIGTRAIN_TORCH_CUDA)
#include <cuda_runtime_api.h>
#endif

namespace sigtrain::trainer {

std::string format_fixed(double value, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  return buf;
}

std::string format_count(double v) {
  char buf[32];
  if (v >= 1e9) std::snprintf(buf, sizeof buf, "%.2fG", v / 1e9);
  else if (v >= 1e6) std::snprintf(buf, sizeof buf, "%.2fM", v / 1e6);
  else if (v >= 1e3) std::snprintf(buf, sizeof buf, "%.1fK", v / 1e3);
  else std::snprintf(buf, sizeof buf, "%.0f", v);
  return buf;
}

std::string format_duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  char buf[32];
  long t = std::lround(s);
  if (t >= 3600) std::snprintf(buf, sizeof buf, "%ldh%02ldm", t / 3600, (t % 3600) / 60);
  else if (t >= 60) std::snprintf(buf, sizeof buf, "%ldm%02lds", t / 60, t % 60);
  else std::snprintf(buf, sizeof buf, "%lds", t);
  return buf;
}

ProgressLine::ProgressLine(int64_t total_steps, double peak_flops, double flops_per_token)
    : total_steps_(total_steps), peak_flops_(peak_flops), flops_per_token_(flops_per_token) {}

std::string ProgressLine::format(int64_t step, double loss, double lr, double grad_norm, double tokens_per_s,
                                 double seconds_per_step, double grad_norm_z) {
  tokens_per_s_sum_ += tokens_per_s;
  ++windows_;
  const int width = static_cast<int>(std::to_string(total_steps_).size());
  char buf[256];
  char z[32] = "";
  if (std::isfinite(grad_norm_z)) std::snprintf(z, sizeof z, " (z %+.1f)", grad_norm_z);
  std::snprintf(buf, sizeof buf, "step %*lld/%lld | loss %.4f | lr %.2e | gnorm %.3g%s | %s tok/s", width,
                static_cast<long long>(step), static_cast<long long>(total_steps_), loss, lr, grad_norm, z,
                format_count(tokens_per_s).c_str());
  std::string line = buf;
  if (peak_flops_ > 0 && flops_per_token_ > 0)
    line += " | MFU " + format_fixed(100.0 * tokens_per_s * flops_per_token_ / peak_flops_, 1) + "%";
  line += " | ETA " + format_duration(static_cast<double>(total_steps_ - step) * seconds_per_step);
  return line;
}

std::string cuda_device_name(int index) {
#if defined(SIGTRAIN_TORCH_CUDA)
  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, index) == cudaSuccess) return prop.name;
#endif
  (void)index;
  return "cuda";
}

}  // namespace sigtrain::trainer
