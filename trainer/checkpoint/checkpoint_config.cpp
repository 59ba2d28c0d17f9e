#include "trainer/checkpoint/checkpoint_config.h"

namespace sigtrain::trainer {

CheckpointConfig CheckpointConfig::parse(config::SectionReader& r) {
  CheckpointConfig c;
  c.every = r.get_int("every", c.every, 0);
  c.keep_last = r.get_int("keep_last", c.keep_last, 1);
  c.save_final = r.get_bool("save_final", c.save_final);
  return c;
}

}  // namespace sigtrain::trainer
