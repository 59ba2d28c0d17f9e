#pragma once
// Stability instruments and the non-finite / divergence policies (docs/stability.md).
//
// The monitor is called from the training loop at fixed points of a step (trainer/loop/training_run.cpp,
// TrainingRun::train_step):
//
//   begin_step(s)                 s = the 1-based step about to run
//   before_forward(micro)         switches the model's attention statistics on for micro-batch 0 when due
//   ...backward...
//   after_backward()              per-layer/per-group gradient norms (pre-clip)
//   global grad norm, clipping
//   allow_update(loss, norm)      skip_step policy only: one host sync for the finiteness flag
//   before_update(); optimizer.step(); after_update(opt)   update/param ratio, parameter norms, Adam moments
//   end_step(loss, norm, lr)      loss and global grad norm of every step, kept on the device
//   sync()                        at logging (and checkpoint) steps: everything pending → host in ONE copy,
//                                 z-scores, non-finite counts, divergence rules, metrics.h5 rows
//
// Every instrument computes on the device into small float32 vectors queued until sync(); nothing reads the
// device between logging steps (except allow_update under on_nonfinite: skip_step, by design).
//
// Data parallelism: the loop hands the monitor the global loss and gradients (all-reduced before after_backward),
// so every rank takes the same decisions from the same numbers; only rank 0 writes metrics.h5.
#include <torch/optim/optimizer.h>
#include <torch/types.h>

#include <cmath>
#include <deque>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "models/model.h"
#include "trainer/instruments/monitor_config.h"

namespace sigtrain::trainer {

class H5SeriesWriter;

class Monitor {
 public:
  // `h5_path` empty or cfg.h5 false: no metrics.h5. resume_step >= 0: a resumed run (metrics.h5 rows of later
  // steps are dropped; the z-score windows start empty).
  Monitor(const MonitorConfig& cfg, models::Model& model, const std::string& h5_path, int64_t resume_step);
  ~Monitor();

  // --- per-step calls from the loop -------------------------------------------------------------------------------
  void begin_step(int64_t step);
  void before_forward(int64_t micro);
  // Whether this micro-step's forward collects attention statistics (it then has to run eagerly).
  bool collecting_attention() const { return collecting_attention_; }
  void after_backward();
  bool allow_update(const torch::Tensor& loss, const torch::Tensor& grad_norm);
  void before_update();
  void after_update(torch::optim::Optimizer& optimizer);
  void end_step(const torch::Tensor& loss, const torch::Tensor& grad_norm, double lr);

  // One device→host copy of everything pending; then the host-side bookkeeping. Cheap when nothing is pending.
  void sync();
  // An evaluation's numbers (validation loss and the task's metrics, always the same names in the same order) as
  // rows of the `eval` group of metrics.h5 (eval/step, eval/<name>), beside the training series.
  void record_evaluation(int64_t step, const std::vector<std::pair<std::string, double>>& values);

  // --- results (host values, valid after sync) --------------------------------------------------------------------
  struct Latest {
    int64_t step = 0;
    double loss = NAN, grad_norm = NAN, loss_z = NAN, grad_norm_z = NAN;
  };
  const Latest& latest() const { return latest_; }
  // Adds the scalars measured since the previous call (group norms, ratios, attention maxima, counters) to a
  // metrics.jsonl record.
  void add_scalars(nlohmann::json& record);
  bool stop_requested() const { return stop_; }
  bool diverged() const { return diverged_step_ > 0; }
  int64_t diverged_step() const { return diverged_step_; }
  const std::string& reason() const { return reason_; }
  int64_t nonfinite_steps() const { return nonfinite_steps_; }
  int64_t skipped_steps() const { return skipped_steps_; }
  nlohmann::json summary() const;  // for summary.json ("monitor": {...})

  // Layout of the per-bin vectors (tests): blocks 0..L-1, then the groups in group_names(), then the total.
  const std::vector<std::string>& group_names() const { return group_names_; }
  int64_t n_layer() const { return n_layer_; }

  // Direct access for tests: per-bin L2 norms of `tensors` (aligned with the model's param_info order; undefined
  // tensors count as 0), laid out [layer 0..L-1, groups..., total].
  torch::Tensor binned_norms(const std::vector<torch::Tensor>& tensors) const;

 private:
  enum class Kind { kStep, kGrads, kParams, kUpdate, kAdam, kAttention };
  struct Pending {
    Kind kind;
    int64_t step;
    torch::Tensor values;  // float32 1-D on the device
    double lr = 0;
    bool skipped = false;
  };
  void process(const Pending& p, const float* v);
  void process_step(int64_t step, double loss, double grad_norm, double lr, bool skipped);
  void write_bins(const std::string& group, int64_t step, const float* v, const std::string& layers_name,
                  const std::string& prefix = "");
  void record_bins(const std::string& key, const float* v);
  void declare_divergence(int64_t step, const std::string& reason);
  std::vector<torch::Tensor> params() const;
  bool due(int64_t every) const { return cfg_.due(every, step_); }

  MonitorConfig cfg_;
  models::Model& model_;
  std::vector<models::ParamInfo> infos_;
  std::vector<std::string> group_names_;
  int64_t n_layer_ = 0;
  int64_t n_bins_ = 0;
  torch::Tensor bin_layer_, bin_group_;  // long [n_params] on the device: bin index (layer L = "outside blocks")
  std::unique_ptr<H5SeriesWriter> h5_;

  int64_t step_ = 0;
  bool collecting_attention_ = false;
  bool skipped_this_step_ = false;
  std::vector<torch::Tensor> before_update_;
  std::vector<Pending> pending_;

  // host-side state
  std::deque<double> loss_window_, gnorm_window_;
  Latest latest_;
  int64_t nonfinite_steps_ = 0, nonfinite_loss_steps_ = 0, skipped_steps_ = 0;
  int64_t bad_streak_ = 0, bad_streak_start_ = 0, nonfinite_streak_ = 0;
  double max_grad_norm_ = 0;
  int64_t diverged_step_ = 0;
  std::string reason_;
  bool stop_ = false;
  nlohmann::json new_scalars_ = nlohmann::json::object();
  bool wrote_layout_ = false;
  bool wrote_attention_attrs_ = false;
  bool attention_via_reference_ = true;
  int64_t attention_sampled_batch_ = 0;
};

}  // namespace sigtrain::trainer
