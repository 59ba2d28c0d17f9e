#pragma once
// The one place where a run is made to fail on purpose (trainer/testing/test_hooks_config.h): the loop calls
// these at fixed points of a step; with the defaults each is a no-op.
#include <torch/types.h>

#include <cstdint>
#include <vector>

#include "trainer/testing/test_hooks_config.h"

namespace sigtrain::trainer {

class TestHooks {
 public:
  explicit TestHooks(const TestHooksConfig& cfg);

  // Before step `step` (1-based) on `rank`: SIGTERM to this process at sigterm_step (on sigterm_rank, or every rank;
  // the step then runs, as a preempted step would); SIGTRAIN_TEST_FAIL_RANK exits (status 17, like a crash) or hangs.
  void at_step_start(int rank, int64_t step) const;
  // The scheduled lr of step `step`, spiked from lr_spike_step on.
  double lr(int64_t step, double scheduled_lr) const;
  // After the backward of step `step`: NaN into the first defined gradient at nan_grad_step.
  void after_backward(int64_t step, const std::vector<torch::Tensor>& params) const;

 private:
  TestHooksConfig cfg_;
  int fail_rank_ = -1;  // from the environment, read once
  int64_t fail_step_ = 1;
  bool fail_hang_ = false;
};

}  // namespace sigtrain::trainer
