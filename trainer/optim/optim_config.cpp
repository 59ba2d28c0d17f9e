#include "trainer/optim/optim_config.h"

namespace sigtrain::trainer {

OptimConfig OptimConfig::parse(config::SectionReader& r) {
  OptimConfig c;
  r.get_enum("name", "adamw", {"adamw"});
  c.lr_peak = r.get_double("lr_peak", c.lr_peak, 0.0, 10.0);
  auto betas = r.get_double_list("betas", {c.beta1, c.beta2});
  if (betas.size() != 2 || betas[0] < 0 || betas[0] >= 1 || betas[1] < 0 || betas[1] >= 1)
    r.fail("betas", "expected two numbers in [0, 1), e.g. [0.9, 0.95]");
  c.beta1 = betas[0];
  c.beta2 = betas[1];
  c.eps = r.get_double("eps", c.eps, 0.0, 1.0);
  c.weight_decay = r.get_double("weight_decay", c.weight_decay, 0.0, 10.0);
  c.decay_norms = r.get_bool("decay_norms", c.decay_norms);
  c.decay_biases = r.get_bool("decay_biases", c.decay_biases);
  c.decay_embeddings = r.get_bool("decay_embeddings", c.decay_embeddings);
  c.clip = r.get_optional_double("clip", std::nullopt, 1e-12, 1e12);
  c.fused = r.get_enum("fused", c.fused, {"auto", "true", "false"});
  return c;
}

}  // namespace sigtrain::trainer
