#pragma once
// Picks the training task for a run: next-token prediction for decoders (more objectives register here).
#include <memory>

#include "trainer/run_config.h"
#include "trainer/task.h"

namespace sigtrain::trainer {

std::unique_ptr<Task> make_task(const RunConfig& cfg);

}  // namespace sigtrain::trainer
