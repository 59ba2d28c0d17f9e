#include "trainer/tasks/mlm_config.h"

namespace sigtrain::trainer {

MlmConfig MlmConfig::parse(config::SectionReader& r) {
  MlmConfig c;
  c.mask_fraction = r.get_double("mask_fraction", c.mask_fraction, 1e-6, 1.0);
  c.replace_with_mask = r.get_double("replace_with_mask", c.replace_with_mask, 0.0, 1.0);
  c.replace_with_random = r.get_double("replace_with_random", c.replace_with_random, 0.0, 1.0);
  if (c.replace_with_mask + c.replace_with_random > 1.0 + 1e-12)
    r.fail("replace_with_random", "replace_with_mask + replace_with_random must be at most 1");
  c.length_jitter = r.get_double("length_jitter", c.length_jitter, 0.0, 0.99);
  c.val_length_jitter = r.get_double("val_length_jitter", c.val_length_jitter, -1.0, 0.99);
  return c;
}

}  // namespace sigtrain::trainer
