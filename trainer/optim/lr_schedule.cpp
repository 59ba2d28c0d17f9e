#include "trainer/optim/lr_schedule.h"

#include <algorithm>
#include <cmath>

namespace sigtrain::trainer {

ScheduleConfig ScheduleConfig::parse(config::SectionReader& r) {
  ScheduleConfig c;
  c.kind = r.get_enum("kind", c.kind, {"cosine", "linear", "constant", "wsd"});
  c.warmup_steps = r.get_int("warmup_steps", c.warmup_steps, 0);
  c.lr_min_ratio = r.get_double("lr_min_ratio", c.lr_min_ratio, 0.0, 1.0);
  c.decay_fraction = r.get_double("decay_fraction", c.decay_fraction, 0.0, 1.0);
  c.horizon_steps = r.get_int("horizon_steps", c.horizon_steps, 0);
  return c;
}

int64_t schedule_steps(const ScheduleConfig& s, int64_t train_steps) {
  return s.horizon_steps > 0 ? s.horizon_steps : train_steps;
}

double lr_at(const ScheduleConfig& s, double lr_peak, int64_t step, int64_t total_steps) {
  const double lr_min = s.lr_min_ratio * lr_peak;
  if (step < s.warmup_steps) return lr_peak * static_cast<double>(step + 1) / static_cast<double>(s.warmup_steps);
  if (s.kind == "constant") return lr_peak;
  const int64_t decay_steps = std::max<int64_t>(1, total_steps - s.warmup_steps);
  const double progress =
      std::clamp(static_cast<double>(step - s.warmup_steps) / static_cast<double>(decay_steps), 0.0, 1.0);
  if (s.kind == "cosine") return lr_min + 0.5 * (lr_peak - lr_min) * (1.0 + std::cos(M_PI * progress));
  if (s.kind == "linear") return lr_peak + (lr_min - lr_peak) * progress;
  // wsd: stable at the peak, then linear decay over the final decay_fraction of all steps.
  const int64_t decay_start = total_steps - static_cast<int64_t>(std::llround(s.decay_fraction * total_steps));
  if (step < decay_start) return lr_peak;
  const double t = static_cast<double>(step - decay_start + 1) / std::max<double>(1.0, total_steps - decay_start);
  return lr_peak + (lr_min - lr_peak) * std::clamp(t, 0.0, 1.0);
}

}  // namespace sigtrain::trainer
