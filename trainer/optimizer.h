#pragma once
// AdamW with two parameter groups: weight-decayed matrices, and the rest (norm gains, biases, embeddings, unless
// optim.decay_* says otherwise). Group membership comes from the model's ParamInfo, not from name matching.
#include <torch/optim/adamw.h>

#include <memory>
#include <vector>

#include "models/model.h"
#include "trainer/train_config.h"

namespace sigtrain::trainer {

struct OptimizerGroups {
  int64_t decayed_params = 0;    // element counts, for the start-of-run summary
  int64_t undecayed_params = 0;
};

std::unique_ptr<torch::optim::AdamW> make_adamw(const std::vector<models::ParamInfo>& params, const OptimConfig& cfg,
                                                OptimizerGroups* groups_out);

// Sets the learning rate of every group (the schedule is applied by the trainer each step).
void set_learning_rate(torch::optim::Optimizer& optimizer, double lr);

}  // namespace sigtrain::trainer
