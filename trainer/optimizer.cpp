#include "trainer/optimizer.h"

namespace sigtrain::trainer {

std::unique_ptr<torch::optim::AdamW> make_adamw(const std::vector<models::ParamInfo>& params, const OptimConfig& cfg,
                                                OptimizerGroups* groups_out) {
  std::vector<torch::Tensor> decayed, undecayed;
  OptimizerGroups groups;
  for (const auto& p : params) {
    if (!p.param.requires_grad()) continue;
    bool decay = true;
    if (p.is_bias) decay = cfg.decay_biases;
    else if (p.group == "norm" || p.group == "layerscale") decay = cfg.decay_norms;
    else if (p.group == "embedding") decay = cfg.decay_embeddings;
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

}  // namespace sigtrain::trainer
