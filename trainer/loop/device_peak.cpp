#include "trainer/loop/device_peak.h"

#include <array>

namespace sigtrain::trainer {

std::optional<DevicePeak> lookup_device_peak(const std::string& device_name) {
  struct Entry {
    const char* needle;
    const char* family;
    double tflops;
  };
  // Order matters: the more specific name first.
  static constexpr std::array<Entry, 7> kTable{{
      {"GH200", "GH200", 989.0},
      {"H200", "H200", 989.0},
      {"H100 PCIe", "H100 PCIe", 756.0},
      {"H100", "H100", 989.0},
      {"A100", "A100", 312.0},
      {"L40S", "L40S", 362.0},
      {"A10", "A10", 125.0},
  }};
  for (const auto& e : kTable)
    if (device_name.find(e.needle) != std::string::npos) return DevicePeak{e.family, e.tflops * 1e12};
  return std::nullopt;
}

}  // namespace sigtrain::trainer
