#pragma once
// The checks `sigtrain train` and `sigtrain config` share: everything about a run that can be known from its config
// and this machine, found before the run folder is created, data is tokenised or a model is built, so that a run
// which cannot work is refused with a message (exit status 2) and leaves nothing behind.
#include "trainer/loop/run_config.h"
#include "trainer/loop/runtime.h"

namespace sigtrain::trainer {

// Checks, in order: the device (train.device, train.precision) of rank `local_rank`, the batch arithmetic for
// `world_size` ranks (plan_batches), that attention.backend computes on that device, and that the task's input files
// exist (TaskDefinition::check_inputs). Throws config::ConfigError naming the key and what would work; returns the
// runtime it checked.
Runtime check_runnable(const RunConfig& cfg, int world_size, int local_rank);

}  // namespace sigtrain::trainer
