#include "trainer/loop/train_config.h"

namespace sigtrain::trainer {

TrainConfig TrainConfig::parse(config::SectionReader& r) {
  TrainConfig c;
  c.steps = r.get_int("steps", c.steps, 1);
  c.global_batch_tokens = r.get_int("global_batch_tokens", c.global_batch_tokens, 1);
  c.micro_batch_size = r.get_int("micro_batch_size", c.micro_batch_size, 1);
  c.seed = static_cast<uint64_t>(r.get_int("seed", static_cast<int64_t>(c.seed), 0));
  c.device = r.get_enum("device", c.device, {"auto", "cpu", "cuda"});
  c.precision = r.get_enum("precision", c.precision, {"auto", "fp32", "bf16"});
  c.threads = r.get_int("threads", c.threads, 0, 1024);
  c.deterministic = r.get_bool("deterministic", c.deterministic);
  c.fill_uninitialized_memory = r.get_bool("fill_uninitialized_memory", c.fill_uninitialized_memory);
  c.cuda_graphs = r.get_enum("cuda_graphs", c.cuda_graphs, {"off", "on", "auto"});
  c.cuda_graphs_max_shapes = r.get_int("cuda_graphs_max_shapes", c.cuda_graphs_max_shapes, 1, 1024);
  return c;
}

EvalConfig EvalConfig::parse(config::SectionReader& r) {
  EvalConfig c;
  c.every = r.get_int("every", c.every, 0);
  c.tokens = r.get_int("tokens", c.tokens, 1);
  c.batch_size = r.get_int("batch_size", c.batch_size, 1);
  return c;
}

LoggingConfig LoggingConfig::parse(config::SectionReader& r) {
  LoggingConfig c;
  c.every = r.get_int("every", c.every, 1);
  const std::string level = r.get_enum("level", "info", {"debug", "info", "warn", "error"});
  c.level = level == "debug" ? log::Level::kDebug
            : level == "warn" ? log::Level::kWarn
            : level == "error" ? log::Level::kError
                               : log::Level::kInfo;
  return c;
}

}  // namespace sigtrain::trainer
