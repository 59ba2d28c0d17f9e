#pragma once
// The `test_hooks` section: faults a test injects into a real run to check the policies that handle them. All
// off by default; a config that sets one is a test, never an experiment (the run log warns at every use).
//
//   test_hooks:
//     nan_grad_step: 0        # NaN into the first parameter's gradient after this step's backward (1-based); 0 = never
//     lr_spike_step: 0        # from this step on, lr × lr_spike_factor (a provoked divergence); 0 = never
//     lr_spike_factor: 1000.0
//     sigterm_step: 0         # the process sends itself SIGTERM as this step starts (1-based); 0 = never
//     sigterm_rank: -1        # ... on this rank only; -1 = every rank
// Rank failures are injected through the environment instead (a launcher starts every rank with the same config):
// SIGTRAIN_TEST_FAIL_RANK=r [SIGTRAIN_TEST_FAIL_STEP=s (default 1)] [SIGTRAIN_TEST_FAIL_MODE=exit|hang].
#include <cstdint>

#include "common/config.h"

namespace sigtrain::trainer {

struct TestHooksConfig {
  int64_t nan_grad_step = 0;
  int64_t lr_spike_step = 0;
  double lr_spike_factor = 1000.0;
  int64_t sigterm_step = 0;
  int64_t sigterm_rank = -1;
  static TestHooksConfig parse(config::SectionReader& r);
};

}  // namespace sigtrain::trainer
