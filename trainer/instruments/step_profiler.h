#pragma once
// Where the time of a training step goes: LibTorch's Kineto profiler (CUPTI on CUDA) over `profile.steps` steps
// from `profile.start_step`, turned into one table: GPU time per kernel category (GEMM, attention, norm, loss,
// optimizer, ...) and per phase of the step in which the kernel was launched (data, forward, backward, grad_sync,
// grad_norm, optimizer), the step's wall time, the GPU's busy time and the idle rest (host gaps: launch overhead,
// syncs, the data pipeline) with the gaps that make it up grouped by place (gpu_gaps.h). Written to
// <run>/profile/{summary.md,summary.json[,trace.json]} and the log.
//
// The step marks its phases with PhaseScope (a RecordFunction user scope named "sigtrain::<phase>"): nearly free
// when no profiler is active. A kernel's phase is that of the CPU op that launched it (Kineto's correlation id).
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "trainer/instruments/profile_config.h"

namespace at {
struct RecordFunction;
}

namespace sigtrain::trainer {

// The phase names the step uses, in the order the table shows them.
// "graph_replay": forward and backward replayed as one CUDA graph (train.cuda_graphs).
inline constexpr const char* kStepPhases[] = {"data",      "forward",   "backward", "graph_replay",
                                              "grad_sync", "grad_norm", "optimizer"};

class PhaseScope {
 public:
  explicit PhaseScope(const char* phase);  // phase: one of kStepPhases
  ~PhaseScope();
  PhaseScope(const PhaseScope&) = delete;
  PhaseScope& operator=(const PhaseScope&) = delete;

 private:
  std::unique_ptr<at::RecordFunction> scope_;
};

class StepProfiler {
 public:
  // out_dir: where profile/ goes (rank 0's run folder; empty: analyse and log only). cuda: profile CUDA too.
  StepProfiler(const ProfileConfig& cfg, std::string out_dir, bool cuda);
  ~StepProfiler();

  void before_step(int64_t step);  // starts the profiler before step start_step
  void after_step(int64_t step);   // stops it after the last profiled step, writes and logs the breakdown
  bool finished() const { return finished_; }

 private:
  void start();
  void stop_and_report();

  ProfileConfig cfg_;
  std::string out_dir_;
  bool cuda_;
  bool active_ = false, finished_ = false;
  std::chrono::steady_clock::time_point started_;
};

}  // namespace sigtrain::trainer
