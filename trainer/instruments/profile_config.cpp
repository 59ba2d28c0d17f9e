#include "trainer/instruments/profile_config.h"

namespace sigtrain::trainer {

ProfileConfig ProfileConfig::parse(config::SectionReader& r) {
  ProfileConfig c;
  c.start_step = r.get_int("start_step", c.start_step, 0);
  c.steps = r.get_int("steps", c.steps, 1, 1000);
  c.trace = r.get_bool("trace", c.trace);
  return c;
}

}  // namespace sigtrain::trainer
