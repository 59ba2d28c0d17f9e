#include "trainer/tasks/lm_task.h"

#include <torch/torch.h>

#include "data/tokenizer.h"
#include "trainer/loop/run_config.h"
#include "trainer/tasks/task_registry.h"

namespace sigtrain::trainer {

TaskDefinition lm_task_definition() {
  TaskDefinition d;
  d.name = "lm";
  d.description = "next-token prediction on a text corpus (model.arch: decoder)";
  d.claims = [](const config::ConfigTree&, const models::ModelConfig& m) { return m.arch == models::Arch::kDecoder; };
  d.parse = [](config::ConfigTree& tree, const models::ModelConfig& model) -> std::shared_ptr<const TaskConfig> {
    auto c = std::make_shared<LmTaskConfig>();
    config::SectionReader section(tree, "data");
    c->data = data::DataConfig::parse(section);
    check_text_fits_model(c->data, model);
    return c;
  };
  d.check_inputs = [](const RunConfig& cfg) { check_corpus_exists(cfg.task_as<LmTaskConfig>().data); };
  d.make = [](const RunConfig& cfg) -> std::unique_ptr<Task> {
    return std::make_unique<LmTask>(cfg.task_as<LmTaskConfig>().data, cfg.train.seed, cfg.eval.tokens);
  };
  d.resume_must_match = {"data"};
  return d;
}

LmTask::LmTask(const data::DataConfig& cfg, uint64_t seed, int64_t val_tokens) : text_(cfg, seed, val_tokens) {}

int64_t LmTask::vocab_size() const { return text_.data().tokenizer->vocab_size(); }

std::string LmTask::describe() const {
  const auto& data = text_.data();
  return data.tokenizer->name() + " tokenizer (" + std::to_string(vocab_size()) + " ids), " + text_.describe() +
         (data.from_cache ? " (tokenised corpus from cache)" : "");
}

Batch LmTask::to_device(const TextWindows::Block& block, const torch::Device& device) {
  Batch batch;
  batch.inputs.tokens = upload(block.inputs, device, torch::kInt64);
  batch.targets = upload(block.targets, device, torch::kInt64);
  return batch;
}

Batch LmTask::train_batch(int64_t seqs_per_step, int rank, int world, int64_t micro, int64_t micro_batch,
                          const torch::Device& device) {
  return to_device(text_.train(seqs_per_step, rank, world, micro, micro_batch), device);
}

Batch LmTask::val_batch(int64_t first, int64_t count, const torch::Device& device) {
  return to_device(text_.val(first, count), device);
}

nlohmann::json LmTask::state() const { return text_.state(); }

void LmTask::restore(const nlohmann::json& state) { text_.restore(state); }

}  // namespace sigtrain::trainer
