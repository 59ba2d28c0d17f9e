#include "trainer/tasks/mlm_task.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <cmath>

#include "data/tokenizer.h"
#include "models/encoder.h"
#include "common/splitmix64.h"
#include "trainer/loop/run_config.h"
#include "trainer/tasks/task_registry.h"

namespace sigtrain::trainer {

TaskDefinition mlm_task_definition() {
  TaskDefinition d;
  d.name = "mlm";
  d.description = "masked-token prediction on a text corpus (model.arch: encoder)";
  d.claims = [](const config::ConfigTree&, const models::ModelConfig& m) { return m.arch == models::Arch::kEncoder; };
  d.parse = [](config::ConfigTree& tree, const models::ModelConfig& model) -> std::shared_ptr<const TaskConfig> {
    auto c = std::make_shared<MlmTaskConfig>();
    config::SectionReader data_section(tree, "data");
    c->data = data::DataConfig::parse(data_section);
    config::SectionReader mlm_section(tree, "mlm");
    c->mlm = MlmConfig::parse(mlm_section);
    check_text_fits_model(c->data, model);
    return c;
  };
  d.check_inputs = [](const RunConfig& cfg) { check_corpus_exists(cfg.task_as<MlmTaskConfig>().data); };
  d.make = [](const RunConfig& cfg) -> std::unique_ptr<Task> {
    const auto& c = cfg.task_as<MlmTaskConfig>();
    return std::make_unique<MlmTask>(c.data, c.mlm, cfg.train.seed, cfg.eval.tokens);
  };
  d.resume_must_match = {"data", "mlm"};
  return d;
}

namespace {

// The validation masks use this seed whatever train.seed is, so runs are scored on the same positions.
constexpr uint64_t kValidationSeed = 0x6d6c6d2d76616cull;  // "mlm-val"

}  // namespace

MlmTask::MlmTask(const data::DataConfig& data, const MlmConfig& mlm, uint64_t seed, int64_t val_tokens)
    : text_(data, seed, val_tokens), cfg_(mlm), seed_(seed) {
  mask_id_ = text_.data().tokenizer->vocab_size();
}

std::string MlmTask::describe() const {
  return "masked tokens (" + std::to_string(cfg_.mask_fraction) + " masked, [MASK] id " + std::to_string(mask_id_) +
         ", length jitter " + std::to_string(cfg_.length_jitter) + "), " + text_.data().tokenizer->name() +
         " tokenizer, " + text_.describe();
}

Batch MlmTask::make_batch(const torch::Tensor& windows, uint64_t seed, int64_t first_index, double jitter,
                          const torch::Device& device) const {
  const int64_t B = windows.size(0), T = windows.size(1);
  const auto& tokenizer = *text_.data().tokenizer;
  const int64_t eot = tokenizer.eot_id();
  models::MaskingOptions opts;
  opts.mask_fraction = cfg_.mask_fraction;
  opts.replace_with_mask = cfg_.replace_with_mask;
  opts.replace_with_random = cfg_.replace_with_random;
  opts.mask_token_id = mask_id_;
  opts.vocab_size = tokenizer.vocab_size();  // random replacements never draw [MASK]
  opts.special_ids = {eot};

  auto tokens = windows.to(torch::kInt64).contiguous();
  auto lengths = torch::full({B}, T, torch::kInt32);
  std::vector<torch::Tensor> inputs, labels;
  for (int64_t r = 0; r < B; ++r) {
    const uint64_t s = splitmix64(splitmix64(seed) ^ static_cast<uint64_t>(first_index + r));
    int64_t len = T;
    if (jitter > 0) {
      const double u = static_cast<double>(splitmix64(s ^ 0x4c454e) >> 11) * 0x1.0p-53;  // "LEN"
      len = std::max<int64_t>(1, T - static_cast<int64_t>(std::floor(u * jitter * static_cast<double>(T))));
    }
    lengths.data_ptr<int32_t>()[r] = static_cast<int32_t>(len);
    auto row = tokens[r].clone().unsqueeze(0);
    if (len < T) row.narrow(1, len, T - len).fill_(eot);
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(s);
    auto m = models::mask_tokens(row, jitter > 0 ? lengths.narrow(0, r, 1) : torch::Tensor(), opts, gen);
    inputs.push_back(m.inputs);
    labels.push_back(m.labels);
  }
  Batch batch;
  batch.inputs.tokens = upload(torch::cat(inputs), device, torch::kInt64);
  batch.targets = upload(torch::cat(labels), device, torch::kInt64);
  if (jitter > 0) batch.inputs.lengths = upload(lengths, device);
  return batch;
}

Batch MlmTask::train_batch(int64_t seqs_per_step, int rank, int world, int64_t micro, int64_t micro_batch,
                           const torch::Device& device) {
  const auto block = text_.train(seqs_per_step, rank, world, micro, micro_batch);  // next-token targets unused
  return make_batch(block.inputs, seed_, block.first, cfg_.length_jitter, device);
}

Batch MlmTask::val_batch(int64_t first, int64_t count, const torch::Device& device) {
  return make_batch(text_.val(first, count).inputs, kValidationSeed, first, cfg_.val_jitter(), device);
}

nlohmann::json MlmTask::state() const {
  auto state = text_.state();
  state["objective"] = "mlm";
  return state;
}

void MlmTask::restore(const nlohmann::json& state) {
  if (state.value("objective", std::string("lm")) != "mlm")
    throw std::runtime_error("checkpoint was written by another training objective than the masked-token task");
  text_.restore(state);
}

}  // namespace sigtrain::trainer
