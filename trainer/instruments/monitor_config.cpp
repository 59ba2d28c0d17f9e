#include "trainer/instruments/monitor_config.h"

namespace sigtrain::trainer {

const char* to_string(NonFinitePolicy p) {
  switch (p) {
    case NonFinitePolicy::kStop: return "stop";
    case NonFinitePolicy::kSkipStep: return "skip_step";
    case NonFinitePolicy::kContinue: return "continue";
  }
  return "?";
}

MonitorConfig MonitorConfig::parse(config::SectionReader& r) {
  MonitorConfig c;
  c.enabled = r.get_bool("enabled", c.enabled);
  c.window = r.get_int("window", c.window, 2, 1 << 20);
  c.grad_norms_every = r.get_int("grad_norms_every", c.grad_norms_every, 0);
  c.param_norms_every = r.get_int("param_norms_every", c.param_norms_every, 0);
  c.update_ratio_every = r.get_int("update_ratio_every", c.update_ratio_every, 0);
  c.adam_every = r.get_int("adam_every", c.adam_every, 0);
  c.attention_every = r.get_int("attention_every", c.attention_every, 0);
  c.attention_sample_batch = r.get_int("attention_sample_batch", c.attention_sample_batch, 1);
  c.h5 = r.get_bool("h5", c.h5);
  const std::string policy = r.get_enum("on_nonfinite", "stop", {"stop", "skip_step", "continue"});
  c.on_nonfinite = policy == "skip_step"  ? NonFinitePolicy::kSkipStep
                   : policy == "continue" ? NonFinitePolicy::kContinue
                                          : NonFinitePolicy::kStop;
  config::SectionReader d = r.sub("divergence");
  c.divergence.enabled = d.get_bool("enabled", c.divergence.enabled);
  c.divergence.zscore = d.get_double("zscore", c.divergence.zscore, 0.0);
  c.divergence.median_ratio = d.get_double("median_ratio", c.divergence.median_ratio, 1.0);
  c.divergence.patience = d.get_int("patience", c.divergence.patience, 1);
  c.divergence.min_history = d.get_int("min_history", c.divergence.min_history, 2);
  c.divergence.stop = d.get_bool("stop", c.divergence.stop);
  if (c.divergence.min_history > c.window)
    d.fail("min_history", "must not exceed monitor.window (" + std::to_string(c.window) + ")");
  return c;
}

}  // namespace sigtrain::trainer
