#pragma once
// AdamW with two parameter groups: weight-decayed matrices, and the rest (norm gains, biases, embeddings, unless
// optim.decay_* says otherwise). Group membership comes from the model's ParamInfo, not from name matching.
#include <torch/optim/adamw.h>

#include <memory>
#include <optional>
#include <vector>

#include "models/model.h"
#include "trainer/optim/optim_config.h"

namespace sigtrain::trainer {

struct OptimizerGroups {
  int64_t decayed_params = 0;    // element counts, for the start-of-run summary
  int64_t undecayed_params = 0;
};

std::unique_ptr<torch::optim::AdamW> make_adamw(const std::vector<models::ParamInfo>& params, const OptimConfig& cfg,
                                                OptimizerGroups* groups_out);

// Sets the learning rate of every group (the schedule is applied by the trainer each step).
void set_learning_rate(torch::optim::Optimizer& optimizer, double lr);

// Zeroes the gradients of every parameter of `optimizer` before a step's accumulation. set_to_none: frees them, as
// LibTorch's zero_grad(). Otherwise zeroes them in place with one multi-tensor op (at::_foreach_zero_) instead of one
// fill launch per tensor, so they keep their memory (a captured CUDA graph accumulates into these very tensors).
void zero_gradients(torch::optim::Optimizer& optimizer, bool set_to_none);

// Whether the run steps AdamW through the fused multi-tensor op: `optim.fused` true / false, or auto = on CUDA.
bool use_fused_adamw(const OptimConfig& cfg, const torch::Device& device);

// One AdamW step of `optimizer` through at::_fused_adamw_, one call per parameter group, instead of LibTorch's
// AdamW::step() (about ten small kernels per parameter). Same math as AdamW::step() (decoupled weight decay
// p *= 1 - lr*wd, bias-corrected moments; fp32 rounding differs) and the same state: AdamWParamState's
// exp_avg, exp_avg_sq and step, so checkpoints are unchanged and fused and per-parameter steps can alternate
// (a run can resume with optim.fused switched). Parameters without a gradient are skipped; amsgrad is refused.
// Each stepped parameter's version counter is bumped, as by any in-place op.
// `grad_divisor` (a 0-dim float32 tensor on the parameters' device, e.g. clip_divisor() of trainer/optim/grad_norm.h)
// divides every gradient inside the same pass, and the divided gradients are written back: clipping without a
// multiply over all gradients of its own.
void fused_adamw_step(torch::optim::AdamW& optimizer, const std::optional<torch::Tensor>& grad_divisor = std::nullopt);

// The trainer's optimizer step: fused_adamw_step() or LibTorch's per-parameter AdamW::step() (which takes no
// divisor: clip the gradients first).
void adamw_step(torch::optim::AdamW& optimizer, bool fused, const std::optional<torch::Tensor>& grad_divisor = std::nullopt);

}  // namespace sigtrain::trainer
