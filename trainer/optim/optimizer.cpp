#include "trainer/optim/optimizer.h"

#include <ATen/ops/_fused_adamw.h>
#include <torch/torch.h>

#include <algorithm>

namespace sigtrain::trainer {
namespace {

// The fused op reads each parameter's step count (already incremented, as torch.optim.AdamW(fused=True) does
// before calling it) from a float32 tensor on the parameter's device. AdamWParamState::step (int64) stays the only
// record -- the one checkpoints store and AdamW::step() uses -- and these tensors are made from it for each call:
// one fill for the whole group when every parameter is at the same step (the usual case; a kernel argument, no
// host-to-device copy or sync), one small fill per parameter otherwise. Nothing extra to save, load or keep in sync.
// float32 holds step counts exactly up to 2^24; beyond that 1 - beta^step is 1 in fp32 anyway.
std::vector<torch::Tensor> step_tensors(const std::vector<int64_t>& steps, const torch::Device& device) {
  const auto options = torch::TensorOptions().dtype(torch::kFloat32).device(device);
  if (std::all_of(steps.begin(), steps.end(), [&](int64_t s) { return s == steps.front(); }))
    return torch::full({static_cast<int64_t>(steps.size())}, static_cast<double>(steps.front()), options).unbind(0);
  std::vector<torch::Tensor> out;
  out.reserve(steps.size());
  for (int64_t s : steps) out.push_back(torch::full({}, static_cast<double>(s), options));
  return out;
}

}  // namespace

std::unique_ptr<torch::optim::AdamW> make_adamw(const std::vector<models::ParamInfo>& params, const OptimConfig& cfg,
                                                OptimizerGroups* groups_out) {
  std::vector<torch::Tensor> decayed, undecayed;
  OptimizerGroups groups;
  for (const auto& p : params) {
    if (!p.param.requires_grad()) continue;
    // The modules' declaration (models/param_group.h), with the config's exceptions to the default rule.
    bool decay = p.decay();
    if (p.is_bias) decay = cfg.decay_biases;
    else if (p.group == models::ParamGroup::kNorm || p.group == models::ParamGroup::kLayerScale)
      decay = cfg.decay_norms;
    else if (p.group == models::ParamGroup::kEmbedding) decay = cfg.decay_embeddings;
    (decay ? decayed : undecayed).push_back(p.param);
    (decay ? groups.decayed_params : groups.undecayed_params) += p.param.numel();
  }
  auto base = torch::optim::AdamWOptions(cfg.lr_peak)
                  .betas({cfg.beta1, cfg.beta2})
                  .eps(cfg.eps)
                  .weight_decay(cfg.weight_decay);
  std::vector<torch::optim::OptimizerParamGroup> param_groups;
  param_groups.emplace_back(decayed, std::make_unique<torch::optim::AdamWOptions>(base));
  auto no_decay = base;
  no_decay.weight_decay(0.0);
  param_groups.emplace_back(undecayed, std::make_unique<torch::optim::AdamWOptions>(no_decay));
  if (groups_out) *groups_out = groups;
  return std::make_unique<torch::optim::AdamW>(std::move(param_groups), base);
}

void set_learning_rate(torch::optim::Optimizer& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
}

void zero_gradients(torch::optim::Optimizer& optimizer, bool set_to_none) {
  if (set_to_none) {
    optimizer.zero_grad(/*set_to_none=*/true);
    return;
  }
  std::vector<at::Tensor> grads;
  for (auto& group : optimizer.param_groups())
    for (auto& p : group.params())
      if (p.grad().defined()) grads.push_back(p.grad());
  if (!grads.empty()) at::_foreach_zero_(grads);
}

bool use_fused_adamw(const OptimConfig& cfg, const torch::Device& device) {
  if (cfg.fused == "auto") return device.is_cuda();
  return cfg.fused == "true";
}

void fused_adamw_step(torch::optim::AdamW& optimizer, const std::optional<torch::Tensor>& grad_divisor) {
  torch::NoGradGuard no_grad;
  auto& state = optimizer.state();
  for (auto& group : optimizer.param_groups()) {
    const auto& options = static_cast<const torch::optim::AdamWOptions&>(group.options());
    TORCH_CHECK(!options.amsgrad(), "fused AdamW step: amsgrad is not supported");
    std::vector<torch::Tensor> params, grads, exp_avgs, exp_avg_sqs;
    std::vector<int64_t> steps;
    for (const auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      TORCH_CHECK(!p.grad().is_sparse(), "fused AdamW step: sparse gradients are not supported");
      // State as AdamW::step() creates and keeps it (keyed by the parameter's TensorImpl).
      auto& slot = state[p.unsafeGetTensorImpl()];
      if (!slot) {
        auto fresh = std::make_unique<torch::optim::AdamWParamState>();
        fresh->step(0);
        fresh->exp_avg(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        fresh->exp_avg_sq(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        slot = std::move(fresh);
      }
      auto& s = static_cast<torch::optim::AdamWParamState&>(*slot);
      s.step(s.step() + 1);
      // The op wants a gradient laid out like its parameter (LibTorch's gradient layout contract usually holds).
      torch::Tensor grad = p.grad();
      if (grad.strides() != p.strides()) grad = torch::empty_like(p).copy_(grad);
      params.push_back(p);
      grads.push_back(grad);
      exp_avgs.push_back(s.exp_avg());
      exp_avg_sqs.push_back(s.exp_avg_sq());
      steps.push_back(s.step());
    }
    if (params.empty()) continue;
    const auto [beta1, beta2] = options.betas();
    at::_fused_adamw_(params, grads, exp_avgs, exp_avg_sqs, /*max_exp_avg_sqs=*/{},
                      step_tensors(steps, params.front().device()), options.lr(), beta1, beta2,
                      options.weight_decay(), options.eps(), /*amsgrad=*/false, /*maximize=*/false,
                      grad_divisor, /*found_inf=*/std::nullopt);
    // The op writes the parameters without bumping their version counters (seen on the H200); whoever caches
    // something derived from a parameter reads those counters (models/weight_casts.h), as for any in-place op.
    for (const torch::Tensor& p : params) p.unsafeGetTensorImpl()->bump_version();
  }
}

void adamw_step(torch::optim::AdamW& optimizer, bool fused, const std::optional<torch::Tensor>& grad_divisor) {
  TORCH_CHECK(fused || !grad_divisor, "adamw_step: a gradient divisor needs the fused step (clip the gradients first)");
  if (fused)
    fused_adamw_step(optimizer, grad_divisor);
  else
    optimizer.step();
}

}  // namespace sigtrain::trainer
