#pragma once
// The `checkpoint` section: how often checkpoints are written and how many are kept.
#include <cstdint>

#include "common/config.h"

namespace sigtrain::trainer {

struct CheckpointConfig {
  int64_t every = 0;                    // steps; 0 = only at the end
  int64_t keep_last = 3;
  bool save_final = true;
  static CheckpointConfig parse(config::SectionReader& r);
};

}  // namespace sigtrain::trainer
