#pragma once
// The `monitor` config section: stability instruments, their intervals, the non-finite and divergence policies,
// Torch-free. docs/stability.md explains every key; the defaults keep the overhead of all
// instruments under 5 % of the step time of the GPT-2-small config on an H200.
//
//   monitor:
//     enabled: true                 # false: only loss and global grad norm (+ z-scores, non-finite counts)
//     window: 128                   # steps in the z-score / running-median window (llm.c uses 128)
//     grad_norms_every: 10          # per-layer and per-group gradient norms; 0 = off
//     param_norms_every: 50         # per-layer and per-group parameter norms
//     update_ratio_every: 50        # ‖Δθ‖/‖θ‖ per layer and group (keeps a copy of θ on those steps)
//     adam_every: 50                # ‖v‖ (AdamW exp_avg_sq) and ‖m‖ per layer and group
//     attention_every: 50           # per-layer max|logit|, row mass, ‖PV‖, block-output RMS
//     attention_sample_batch: 1     # sequences of the first micro-batch the attention stats use
//     h5: true                      # per-step and per-layer series in <run>/metrics.h5
//     on_nonfinite: stop            # stop | skip_step | continue
//     divergence:
//       enabled: true
//       zscore: 6.0                 # grad-norm z-score above this ...
//       median_ratio: 100.0         # ... or grad norm / running median above this ...
//       patience: 10                # ... for this many consecutive steps = diverged
//       min_history: 32             # steps in the window before the z/median rules apply
//       stop: true                  # stop the run at a detected divergence (stop_on_divergence)
#include <cstdint>
#include <string>

#include "common/config.h"

namespace sigtrain::trainer {

enum class NonFinitePolicy { kStop, kSkipStep, kContinue };
const char* to_string(NonFinitePolicy p);

struct DivergenceConfig {
  bool enabled = true;
  double zscore = 6.0;
  double median_ratio = 100.0;
  int64_t patience = 10;
  int64_t min_history = 32;
  bool stop = true;
};

struct MonitorConfig {
  bool enabled = true;
  int64_t window = 128;
  int64_t grad_norms_every = 10;
  int64_t param_norms_every = 50;
  int64_t update_ratio_every = 50;
  int64_t adam_every = 50;
  int64_t attention_every = 50;
  int64_t attention_sample_batch = 1;
  bool h5 = true;
  NonFinitePolicy on_nonfinite = NonFinitePolicy::kStop;
  DivergenceConfig divergence;

  // true when instrument `every` fires at 1-based step `step` (and the monitor is enabled).
  bool due(int64_t every, int64_t step) const { return enabled && every > 0 && step % every == 0; }

  static MonitorConfig parse(config::SectionReader& r);
};

}  // namespace sigtrain::trainer
