#pragma once
// Fused (at::_fused_adamw_) versus LibTorch's per-parameter AdamW::step() on a few tensors of different shapes in
// both parameter groups (decayed and not), shared by the CPU tests (test_adamw.cpp) and the GPU tests
// (test_adamw_gpu.cpp).
#include <torch/torch.h>

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "models/model.h"
#include "trainer/optim/grad_norm.h"
#include "trainer/optim/optimizer.h"

namespace sigtrain::fixture {

// max |a - b| / max |b| over one tensor (norm-wise relative difference; 0 for two zero tensors).
inline double max_rel_diff(const torch::Tensor& a, const torch::Tensor& b) {
  auto a64 = a.detach().to(torch::kCPU, torch::kFloat64), b64 = b.detach().to(torch::kCPU, torch::kFloat64);
  const double diff = (a64 - b64).abs().max().item<double>();
  const double scale = b64.abs().max().item<double>();
  return scale > 0 ? diff / scale : diff;
}

struct AdamWDifference {
  double params = 0, exp_avg = 0, exp_avg_sq = 0;  // largest max_rel_diff over the parameters
  bool steps_equal = true;                          // AdamWParamState::step equal for every parameter
  int64_t decayed = 0, undecayed = 0;               // the groups' element counts
};

// Two copies of the same parameters, one stepped by AdamW::step() and one by `candidate` (given the optimizer and
// the step index), with the same gradients and learning rates for `steps` steps. One parameter gets no gradient in
// step 1 (both steppers skip it), so afterwards the steps within its group differ.
inline AdamWDifference compare_adamw_steps(const torch::Device& device, int steps,
                                           const std::function<void(torch::optim::AdamW&, int)>& candidate) {
  struct Spec {
    std::string name;
    models::ParamGroup group;
    std::vector<int64_t> shape;
    bool is_bias;
  };
  const std::vector<Spec> specs = {
      {"blocks.0.attn.qkv.weight", models::ParamGroup::kAttnQkv, {48, 16}, false},
      {"blocks.0.attn.qkv.bias", models::ParamGroup::kAttnQkv, {48}, true},
      // > 64K elements: more than one multi-tensor chunk
      {"blocks.0.mlp.fc.weight", models::ParamGroup::kMlp, {300, 300}, false},
      {"blocks.0.mlp.fc.bias", models::ParamGroup::kMlp, {300}, true},
      {"blocks.0.norm.weight", models::ParamGroup::kNorm, {16}, false},
      {"tok_emb.weight", models::ParamGroup::kEmbedding, {50, 3, 4}, false},
      {"head.scale", models::ParamGroup::kHead, {1}, false},
  };
  torch::manual_seed(7);
  std::vector<models::ParamInfo> ref_infos, cand_infos;
  for (const auto& s : specs) {
    torch::Tensor init = torch::randn(s.shape);
    models::ParamInfo info;
    info.name = s.name;
    info.group = s.group;
    info.is_bias = s.is_bias;
    info.param = init.clone().to(device).requires_grad_(true);
    ref_infos.push_back(info);
    info.param = init.clone().to(device).requires_grad_(true);
    cand_infos.push_back(info);
  }
  trainer::OptimConfig cfg;  // betas 0.9 / 0.95, eps 1e-8
  cfg.lr_peak = 1e-2;
  cfg.weight_decay = 0.1;
  trainer::OptimizerGroups ref_groups, cand_groups;
  auto ref = trainer::make_adamw(ref_infos, cfg, &ref_groups);
  auto cand = trainer::make_adamw(cand_infos, cfg, &cand_groups);

  for (int step = 0; step < steps; ++step) {
    const double lr = cfg.lr_peak * (1.0 + 0.5 * step);
    trainer::set_learning_rate(*ref, lr);
    trainer::set_learning_rate(*cand, lr);
    for (size_t i = 0; i < specs.size(); ++i) {
      torch::Tensor grad = torch::randn(specs[i].shape).to(device);
      const bool skip = step == 1 && i == 2;
      ref_infos[i].param.mutable_grad() = skip ? torch::Tensor() : grad.clone();
      cand_infos[i].param.mutable_grad() = skip ? torch::Tensor() : grad.clone();
    }
    ref->step();
    candidate(*cand, step);
  }

  AdamWDifference d;
  d.decayed = cand_groups.decayed_params;
  d.undecayed = cand_groups.undecayed_params;
  for (size_t i = 0; i < specs.size(); ++i) {
    const auto& r = static_cast<const torch::optim::AdamWParamState&>(
        *ref->state().at(ref_infos[i].param.unsafeGetTensorImpl()));
    const auto& c = static_cast<const torch::optim::AdamWParamState&>(
        *cand->state().at(cand_infos[i].param.unsafeGetTensorImpl()));
    d.steps_equal = d.steps_equal && r.step() == c.step();
    d.params = std::max(d.params, max_rel_diff(cand_infos[i].param, ref_infos[i].param));
    d.exp_avg = std::max(d.exp_avg, max_rel_diff(c.exp_avg(), r.exp_avg()));
    d.exp_avg_sq = std::max(d.exp_avg_sq, max_rel_diff(c.exp_avg_sq(), r.exp_avg_sq()));
    EXPECT_EQ(c.exp_avg().device(), device) << specs[i].name;
  }
  return d;
}

// The two AdamW variants left the same state: equal step counts, parameters and both moments within 1e-6 (relative).
inline void expect_same_adamw_state(const AdamWDifference& d) {
  EXPECT_TRUE(d.steps_equal);
  EXPECT_LT(d.params, 1e-6);
  EXPECT_LT(d.exp_avg, 1e-6);
  EXPECT_LT(d.exp_avg_sq, 1e-6);
}

// Clipping inside the fused step (a divisor, trainer/optim/grad_norm.h clip_divisor) against clipping first
// (clip_gradients, then the fused step), on two copies of the same parameters and gradients whose global norm is
// `grad_norm_over_max` times max_norm. Returns the largest relative difference over the parameters and over the
// gradients the two leave behind (the divided ones are written back).
struct ClipDifference {
  double params = 0, grads = 0;
  bool bit_equal = true;  // parameters and gradients equal bit for bit
};
inline ClipDifference compare_clip_inside_step(const torch::Device& device, double grad_norm_over_max) {
  torch::manual_seed(11);
  const double max_norm = 0.5;
  std::vector<torch::Tensor> inits = {torch::randn({64, 32}), torch::randn({32}), torch::randn({300, 300})};
  std::vector<torch::Tensor> grads;
  for (const auto& t : inits) grads.push_back(torch::randn(t.sizes()));
  const double norm0 = torch::linalg_vector_norm(torch::cat({grads[0].flatten(), grads[1], grads[2].flatten()}), 2)
                           .item<double>();
  for (auto& g : grads) g.mul_(grad_norm_over_max * max_norm / norm0);
  auto copy_params = [&] {
    std::vector<torch::Tensor> ps;
    for (size_t i = 0; i < inits.size(); ++i) {
      ps.push_back(inits[i].clone().to(device).requires_grad_(true));
      ps.back().mutable_grad() = grads[i].clone().to(device);
    }
    return ps;
  };
  auto first = copy_params(), inside = copy_params();
  torch::optim::AdamW opt_first(first, torch::optim::AdamWOptions(1e-2).weight_decay(0.1));
  torch::optim::AdamW opt_inside(inside, torch::optim::AdamWOptions(1e-2).weight_decay(0.1));
  const torch::Tensor norm = trainer::global_grad_norm(first);
  trainer::clip_gradients(first, norm, max_norm);
  trainer::fused_adamw_step(opt_first);
  trainer::fused_adamw_step(opt_inside, trainer::clip_divisor(trainer::global_grad_norm(inside), max_norm));
  ClipDifference d;
  for (size_t i = 0; i < inits.size(); ++i) {
    d.params = std::max(d.params, max_rel_diff(inside[i], first[i]));
    d.grads = std::max(d.grads, max_rel_diff(inside[i].grad(), first[i].grad()));
    d.bit_equal = d.bit_equal && torch::equal(inside[i], first[i]) && torch::equal(inside[i].grad(), first[i].grad());
  }
  return d;
}

}  // namespace sigtrain::fixture
