#include "trainer/testing/test_hooks_config.h"

namespace sigtrain::trainer {

TestHooksConfig TestHooksConfig::parse(config::SectionReader& r) {
  TestHooksConfig c;
  c.nan_grad_step = r.get_int("nan_grad_step", c.nan_grad_step, 0);
  c.lr_spike_step = r.get_int("lr_spike_step", c.lr_spike_step, 0);
  c.lr_spike_factor = r.get_double("lr_spike_factor", c.lr_spike_factor, 0.0, 1e12);
  c.sigterm_step = r.get_int("sigterm_step", c.sigterm_step, 0);
  c.sigterm_rank = r.get_int("sigterm_rank", c.sigterm_rank, -1);
  return c;
}

}  // namespace sigtrain::trainer
