#pragma once
// The `profile` config section: a CUPTI trace (LibTorch's Kineto profiler) of a few training steps and the time
// breakdown made from it (trainer/instruments/step_profiler.h; docs/benchmarks.md, "Training speed").
//
//   profile:
//     start_step: 0     # first step profiled (1-based); 0 = off
//     steps: 5          # steps profiled from there
//     trace: true       # also write <run>/profile/trace.json (Chrome trace format: chrome://tracing, Perfetto)
#include <cstdint>

#include "common/config.h"

namespace sigtrain::trainer {

struct ProfileConfig {
  int64_t start_step = 0;
  int64_t steps = 5;
  bool trace = true;
  bool enabled() const { return start_step > 0; }
  static ProfileConfig parse(config::SectionReader& r);
};

}  // namespace sigtrain::trainer
