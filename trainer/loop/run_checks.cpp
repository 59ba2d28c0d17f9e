#include "trainer/loop/run_checks.h"

#include <stdexcept>
#include <string>

#include "common/config.h"
#include "models/attention.h"
#include "models/fused_ops.h"
#include "trainer/loop/batch_plan.h"

namespace sigtrain::trainer {
namespace {

// The backend's own rule for the device (models/attention.h); parsing checked only what needs no device.
void check_backend_on_device(const RunConfig& cfg, const Runtime& rt) {
  const models::AttentionConfig& attention = cfg.attention;
  models::AttentionBackendPtr backend;
  try {
    backend = models::find_attention_backend(attention.backend);
  } catch (const std::invalid_argument& e) {
    throw config::ConfigError(std::string("attention.backend: ") + e.what());
  }
  if (const std::string why = backend->unavailable_on(rt.device.is_cuda()); !why.empty())
    throw config::ConfigError("attention.backend: " + attention.backend + " cannot run on " + rt.device.str() +
                              " (train.device: " + cfg.train.device + "): " + why);
}

}  // namespace

Runtime check_runnable(const RunConfig& cfg, int world_size, int local_rank) {
  Runtime rt = select_runtime(cfg.train, local_rank);
  plan_batches(cfg, world_size);
  check_backend_on_device(cfg, rt);
  models::resolve_fused_ops(cfg.fused_ops, rt.device.is_cuda());  // `on` where it cannot run: ConfigError
  if (cfg.train.cuda_graphs == "on" && world_size > 1)
    throw config::ConfigError("train.cuda_graphs: on is for one process; a data-parallel run (" +
                              std::to_string(world_size) + " ranks) all-reduces gradients during the backward, "
                              "which the graph does not capture; set train.cuda_graphs: off");
  if (cfg.train.cuda_graphs == "on" && !rt.device.is_cuda())
    throw config::ConfigError("train.cuda_graphs: on needs a CUDA device, but the run is on " + rt.device.str() +
                              " (train.device: " + cfg.train.device + "); set train.cuda_graphs: off");
  if (const TaskDefinition& task = task_definition(cfg.task); task.check_inputs) task.check_inputs(cfg);
  return rt;
}

}  // namespace sigtrain::trainer
