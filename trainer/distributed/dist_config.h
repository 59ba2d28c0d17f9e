#pragma once
// The `dist` config section: how data-parallel ranks talk to each other. Who the ranks are (rank, world size, the
// rendezvous address) comes from the environment (`sigtrain launch`, torchrun or Slurm), not from here; see
// docs/distributed.md. Torch-free.
#include <cstdint>
#include <string>

#include "common/config.h"

namespace sigtrain::trainer {

struct DistConfig {
  std::string backend = "auto";  // auto (nccl on CUDA, gloo on CPU) | nccl | gloo
  double bucket_mb = 25.0;       // gradient bucket size in MiB (one flat buffer and one all-reduce per bucket)
  bool overlap = true;           // launch each bucket's all-reduce during backward (false: all after backward)
  int64_t timeout_s = 300;       // rendezvous and collective timeout; a dead or hung rank fails the others then
  std::string master_addr;       // overrides MASTER_ADDR (empty: from the environment)
  int64_t master_port = 0;       // overrides MASTER_PORT (0: from the environment, else 29500)
  static DistConfig parse(config::SectionReader& r);
};

}  // namespace sigtrain::trainer
