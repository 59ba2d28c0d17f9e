#include "trainer/train_config.h"

namespace sigtrain::trainer {

OptimConfig OptimConfig::parse(config::SectionReader& r) {
  OptimConfig c;
  r.get_enum("name", "adamw", {"adamw"});
  c.lr_peak = r.get_double("lr_peak", c.lr_peak, 0.0, 10.0);
  auto betas = r.get_double_list("betas", {c.beta1, c.beta2});
  if (betas.size() != 2 || betas[0] < 0 || betas[0] >= 1 || betas[1] < 0 || betas[1] >= 1)
    r.fail("betas", "expected two numbers in [0, 1), e.g. [0.9, 0.95]");
  c.beta1 = betas[0];
  c.beta2 = betas[1];
  c.eps = r.get_double("eps", c.eps, 0.0, 1.0);
  c.weight_decay = r.get_double("weight_decay", c.weight_decay, 0.0, 10.0);
  c.decay_norms = r.get_bool("decay_norms", c.decay_norms);
  c.decay_biases = r.get_bool("decay_biases", c.decay_biases);
  c.decay_embeddings = r.get_bool("decay_embeddings", c.decay_embeddings);
  c.clip = r.get_optional_double("clip", std::nullopt, 1e-12, 1e12);
  c.fused = r.get_enum("fused", c.fused, {"auto", "true", "false"});
  return c;
}

ScheduleConfig ScheduleConfig::parse(config::SectionReader& r) {
  ScheduleConfig c;
  c.kind = r.get_enum("kind", c.kind, {"cosine", "linear", "constant", "wsd"});
  c.warmup_steps = r.get_int("warmup_steps", c.warmup_steps, 0);
  c.lr_min_ratio = r.get_double("lr_min_ratio", c.lr_min_ratio, 0.0, 1.0);
  c.decay_fraction = r.get_double("decay_fraction", c.decay_fraction, 0.0, 1.0);
  return c;
}

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
  return c;
}

EvalConfig EvalConfig::parse(config::SectionReader& r) {
  EvalConfig c;
  c.every = r.get_int("every", c.every, 0);
  c.tokens = r.get_int("tokens", c.tokens, 1);
  c.batch_size = r.get_int("batch_size", c.batch_size, 1);
  return c;
}

CheckpointConfig CheckpointConfig::parse(config::SectionReader& r) {
  CheckpointConfig c;
  c.every = r.get_int("every", c.every, 0);
  c.keep_last = r.get_int("keep_last", c.keep_last, 1);
  c.save_final = r.get_bool("save_final", c.save_final);
  return c;
}

LoggingConfig LoggingConfig::parse(config::SectionReader& r) {
  LoggingConfig c;
  c.every = r.get_int("every", c.every, 1);
  c.level = r.get_enum("level", c.level, {"debug", "info", "warn", "error"});
  return c;
}

}  // namespace sigtrain::trainer
