#pragma once
// Learning-rate schedules: linear warmup from 0, then cosine / linear decay to lr_min_ratio·peak, constant,
// or WSD (warmup-stable-decay: constant, then a linear decay over the last decay_fraction of the steps).
#include <cstdint>

#include "trainer/train_config.h"

namespace sigtrain::trainer {

// lr for optimizer step `step` (0-based) of `total_steps`.
double lr_at(const ScheduleConfig& schedule, double lr_peak, int64_t step, int64_t total_steps);

}  // namespace sigtrain::trainer
