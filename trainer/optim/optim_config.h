#pragma once
// The `optim` section: AdamW's hyper-parameters, which parameter groups decay, clipping, the fused step.
#include <optional>
#include <string>

#include "common/config.h"

namespace sigtrain::trainer {

struct OptimConfig {
  double lr_peak = 3e-4;
  double beta1 = 0.9;
  double beta2 = 0.95;
  double eps = 1e-8;
  double weight_decay = 0.1;
  bool decay_norms = false;       // AdamW decay on norm gains/LayerScale (off by default)
  bool decay_biases = false;
  bool decay_embeddings = false;
  std::optional<double> clip;     // max global grad norm; nullopt = no clipping (norm is still measured)
  std::string fused = "auto";     // auto (fused multi-tensor step on CUDA, per-parameter on CPU) | true | false
  static OptimConfig parse(config::SectionReader& r);
};

}  // namespace sigtrain::trainer
