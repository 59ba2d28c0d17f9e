#include "trainer/distributed/dist_config.h"

namespace sigtrain::trainer {

DistConfig DistConfig::parse(config::SectionReader& r) {
  DistConfig c;
  c.backend = r.get_enum("backend", c.backend, {"auto", "nccl", "gloo"});
  c.bucket_mb = r.get_double("bucket_mb", c.bucket_mb, 0.001, 65536.0);
  c.overlap = r.get_bool("overlap", c.overlap);
  c.timeout_s = r.get_int("timeout_s", c.timeout_s, 1, 7 * 24 * 3600);
  c.master_addr = r.get_string("master_addr", c.master_addr);
  c.master_port = r.get_int("master_port", c.master_port, 0, 65535);
  return c;
}

}  // namespace sigtrain::trainer
