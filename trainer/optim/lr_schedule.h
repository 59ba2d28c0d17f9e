#pragma once
// The `schedule` section and the learning-rate schedules: linear warmup from 0, then cosine / linear decay to
// lr_min_ratio·peak, constant, or WSD (warmup-stable-decay: constant, then a linear decay over the last
// decay_fraction of the steps).
#include <cstdint>
#include <string>

#include "common/config.h"

namespace sigtrain::trainer {

struct ScheduleConfig {
  std::string kind = "cosine";    // cosine | linear | constant | wsd
  int64_t warmup_steps = 100;
  double lr_min_ratio = 0.1;      // final lr = lr_min_ratio * lr_peak (cosine, linear, wsd)
  double decay_fraction = 0.2;    // wsd: fraction of steps spent decaying at the end
  // The run length the schedule is laid out for; 0 = train.steps. A run with train.steps < horizon_steps is the
  // first train.steps steps of the longer run, step for step (a shortened experiment keeps the full schedule).
  int64_t horizon_steps = 0;
  static ScheduleConfig parse(config::SectionReader& r);
};

// lr for optimizer step `step` (0-based) of `total_steps`.
double lr_at(const ScheduleConfig& schedule, double lr_peak, int64_t step, int64_t total_steps);

// The steps the schedule spans for a run of `train_steps`: horizon_steps when set, else train_steps.
int64_t schedule_steps(const ScheduleConfig& schedule, int64_t train_steps);

}  // namespace sigtrain::trainer
