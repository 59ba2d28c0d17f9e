#pragma once
// One training run, assembled from its config: the task and its data, the model, AdamW, gradient sync, the
// monitor, the run's record files and checkpoints. The loop reads top to bottom in training_run.cpp:
//
//   run():          [evaluate(0)] → repeat train_step() · log_step() · evaluate() · save_checkpoint() → finish()
//   train_step():   micro-batches → forward → loss → backward → global grad norm (always) → clip (optional) →
//                   scheduled lr → AdamW → data position advances by the global batch
//
// Each of train_step, evaluate and save_checkpoint can be called on its own (tests do). The loop names no task:
// everything domain-specific comes from the Task (trainer/tasks/task.h).
#include <torch/optim/adamw.h>
#include <torch/types.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "models/model.h"
#include "trainer/checkpoint/checkpoint.h"
#include "trainer/distributed/distributed.h"
#include "trainer/distributed/grad_sync.h"
#include "trainer/instruments/monitor.h"
#include "trainer/instruments/step_profiler.h"
#include "trainer/loop/batch_plan.h"
#include "trainer/loop/progress.h"
#include "trainer/loop/run_config.h"
#include "trainer/loop/run_files.h"
#include "trainer/loop/runtime.h"
#include "trainer/loop/train_state.h"
#include "trainer/tasks/task.h"

namespace sigtrain::trainer {
class MicroStepGraph;  // trainer/loop/micro_step_graph.h
}
#include "trainer/testing/test_hooks.h"

namespace sigtrain::trainer {

// The checkpoint keys every task must match to resume (the task adds its own: TaskDefinition::resume_must_match).
extern const std::vector<std::string> kLoopResumeMustMatch;

// Mean loss and global grad norm of one optimizer step, 0-dim device tensors (no host sync), and its lr.
struct StepResult {
  torch::Tensor loss;
  torch::Tensor grad_norm;
  double lr = 0;
};

class TrainingRun {
 public:
  // Builds everything (rank 0 prepares the data first) and, with `resume_dir`, restores the checkpoint. Only rank 0
  // writes into `run_dir`.
  TrainingRun(RunConfig cfg, const Runtime& runtime, DistributedContext& dist, const std::string& run_dir,
              const std::optional<std::string>& resume_dir);
  ~TrainingRun();

  // One optimizer step (the next one: state().step + 1).
  StepResult train_step();
  // Validation loss over the task's fixed set plus the task's own metrics: one eval record in metrics.jsonl.
  // Updates state().last_val_loss and best_val_loss; returns the record.
  nlohmann::json evaluate();
  // A checkpoint of the current step (skipped, with a warning, once the run has diverged).
  void save_checkpoint();
  // The whole loop from state().step to train.steps; fills `summary` (status, losses, throughput, digest).
  void run(RunSummary& summary);

  const TrainState& state() const { return state_; }
  const RunConfig& config() const { return cfg_; }
  const BatchPlan& plan() const { return plan_; }
  models::Model& model() { return *model_; }
  Task& task() { return *task_; }
  // Fields of summary.json beside RunSummary's: device, parameters, monitor, world size, parameter sum and L2.
  nlohmann::json summary_extra() const;

 private:
  void log_step(const StepResult& step);  // the one host sync per logged step; metrics record, progress line
  void mark_diverged(RunSummary& summary) const;
  // Takes back the cuBLASLt algorithm choices a checkpoint's state holds (models/gemm_algos.h), if any.
  void restore_gemm_algos(const std::string& checkpoint_dir, const nlohmann::json& state);
  // The stop signal (trainer/loop/stop_signal.h) to act on after step `done`, 0 for none; with several ranks the
  // same answer on all of them.
  int stop_signal_after(int64_t done);
  // Saves a checkpoint of this step (unless the step just saved one) and marks the run interrupted.
  void stop_for_signal(int sig, RunSummary& summary);
  nlohmann::json report_metrics() const;  // the task's metrics for `sigtrain report`
  bool due(int64_t every) const { return every > 0 && state_.step % every == 0; }

  RunConfig cfg_;
  Runtime rt_;
  DistributedContext& dist_;
  std::string run_dir_;
  int rank_ = 0, world_ = 1;
  BatchPlan plan_;
  TestHooks hooks_;
  std::unique_ptr<Task> task_;
  std::shared_ptr<models::Model> model_;
  std::vector<torch::Tensor> params_;
  std::unique_ptr<torch::optim::AdamW> optimizer_;
  bool fused_adamw_ = false;
  bool gemm_algos_timed_ = false;  // fused_ops.gemm_algo resolved to timed: checkpoints keep the choices
  std::unique_ptr<GradSync> grad_sync_;
  std::unique_ptr<MicroStepGraph> graph_;  // train.cuda_graphs: on
  TrainState state_;
  std::unique_ptr<MetricsWriter> metrics_;
  std::unique_ptr<CheckpointManager> checkpoints_;
  std::unique_ptr<Monitor> monitor_;
  std::unique_ptr<StepProfiler> profiler_;  // `profile` section: off unless profile.start_step > 0
  std::unique_ptr<ProgressLine> progress_;
};

}  // namespace sigtrain::trainer
