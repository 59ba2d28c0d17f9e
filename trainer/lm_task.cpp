#include "trainer/lm_task.h"

#include <torch/torch.h>

#include "data/tokenizer.h"

namespace sigtrain::trainer {

LmTask::LmTask(const data::DataConfig& cfg, uint64_t seed, int64_t val_tokens) : data_(data::prepare_lm_data(cfg)) {
  sampler_ = std::make_unique<data::LmSampler>(data_.train, cfg.seq_len, seed);
  val_ = std::make_unique<data::LmValidationSet>(data_.val, cfg.seq_len, val_tokens);
}

int64_t LmTask::vocab_size() const { return data_.tokenizer->vocab_size(); }

std::string LmTask::describe() const {
  return data_.tokenizer->name() + " tokenizer (" + std::to_string(vocab_size()) + " ids), " +
         std::to_string(data_.train.size()) + " train / " + std::to_string(data_.val.size()) +
         " validation tokens, " + std::to_string(sampler_->windows_per_epoch()) + " train windows of " +
         std::to_string(sampler_->seq_len()) + ", " + std::to_string(val_->num_windows()) +
         " validation windows" + (data_.from_cache ? " (tokenised corpus from cache)" : "");
}

Batch LmTask::to_device(const torch::Tensor& inputs, const torch::Tensor& targets, const torch::Device& device) {
  auto opts = torch::TensorOptions().dtype(torch::kInt64).device(device);
  Batch batch;
  batch.inputs.tokens = inputs.to(opts);
  batch.targets = targets.to(opts);
  return batch;
}

Batch LmTask::train_batch(int64_t seqs_per_step, int rank, int world, int64_t micro, int64_t micro_batch,
                          const torch::Device& device) {
  const int64_t T = sampler_->seq_len();
  const int64_t first = sampler_->micro_batch_start(seqs_per_step, rank, world, micro, micro_batch);
  auto inputs = torch::empty({micro_batch, T}, torch::kInt32);
  auto targets = torch::empty({micro_batch, T}, torch::kInt32);
  sampler_->fill(first, micro_batch, inputs.data_ptr<int32_t>(), targets.data_ptr<int32_t>());
  return to_device(inputs, targets, device);
}

Batch LmTask::val_batch(int64_t first, int64_t count, const torch::Device& device) {
  const int64_t T = val_->seq_len();
  auto inputs = torch::empty({count, T}, torch::kInt32);
  auto targets = torch::empty({count, T}, torch::kInt32);
  val_->fill(first, count, inputs.data_ptr<int32_t>(), targets.data_ptr<int32_t>());
  return to_device(inputs, targets, device);
}

nlohmann::json LmTask::state() const {
  return {{"sampler", sampler_->state().to_json()}, {"tokenizer", data_.tokenizer->identity()}};
}

void LmTask::restore(const nlohmann::json& state) {
  const std::string tok = state.at("tokenizer").get<std::string>();
  if (tok != data_.tokenizer->identity())
    throw std::runtime_error("checkpoint was written with tokenizer '" + tok + "', this run's is '" +
                             data_.tokenizer->identity() + "'");
  sampler_->restore(data::SamplerState::from_json(state.at("sampler")));
}

}  // namespace sigtrain::trainer
