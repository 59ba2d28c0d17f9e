#include "trainer/testing/test_hooks.h"

#include <torch/torch.h>

#include <chrono>
#include <csignal>
#include <cmath>
#include <cstdlib>
#include <string>
#include <thread>

#include "common/log.h"

namespace sigtrain::trainer {

TestHooks::TestHooks(const TestHooksConfig& cfg) : cfg_(cfg) {
  if (const char* rank = std::getenv("SIGTRAIN_TEST_FAIL_RANK"); rank != nullptr && rank[0] != '\0') {
    fail_rank_ = std::stoi(rank);
    if (const char* step = std::getenv("SIGTRAIN_TEST_FAIL_STEP")) fail_step_ = std::stoll(step);
    const char* mode = std::getenv("SIGTRAIN_TEST_FAIL_MODE");
    fail_hang_ = mode != nullptr && std::string(mode) == "hang";
  }
}

void TestHooks::at_step_start(int rank, int64_t step) const {
  if (cfg_.sigterm_step > 0 && step == cfg_.sigterm_step && (cfg_.sigterm_rank < 0 || cfg_.sigterm_rank == rank)) {
    log::warn("test_hooks.sigterm_step: SIGTERM to this process at the start of step " + std::to_string(step));
    std::raise(SIGTERM);
  }
  if (rank != fail_rank_ || step != fail_step_) return;
  if (fail_hang_) {
    log::warn("SIGTRAIN_TEST_FAIL_RANK: rank " + std::to_string(rank) + " stops responding at step " +
              std::to_string(step));
    for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  log::warn("SIGTRAIN_TEST_FAIL_RANK: rank " + std::to_string(rank) + " exits with status 17 at step " +
            std::to_string(step));
  std::_Exit(17);  // like a crash: no destructors, no goodbye to the other ranks
}

double TestHooks::lr(int64_t step, double scheduled_lr) const {
  if (cfg_.lr_spike_step > 0 && step >= cfg_.lr_spike_step) return scheduled_lr * cfg_.lr_spike_factor;
  return scheduled_lr;
}

void TestHooks::after_backward(int64_t step, const std::vector<torch::Tensor>& params) const {
  if (cfg_.nan_grad_step <= 0 || step != cfg_.nan_grad_step) return;
  torch::NoGradGuard no_grad;
  for (const auto& p : params)
    if (p.grad().defined()) {
      p.grad().fill_(NAN);
      log::warn("test_hooks.nan_grad_step: NaN written into a gradient at step " + std::to_string(step));
      return;
    }
}

}  // namespace sigtrain::trainer
