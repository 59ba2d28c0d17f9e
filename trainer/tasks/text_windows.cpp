#include "trainer/tasks/text_windows.h"

#include <torch/torch.h>

#include <stdexcept>

#include "common/config.h"
#include "data/tokenizer.h"

namespace sigtrain::trainer {

void check_corpus_exists(const data::DataConfig& data) {
  try {
    data::resolve_corpus(data);
  } catch (const std::runtime_error& e) {
    throw config::ConfigError(e.what());  // (the message names data.corpus and the entry)
  }
}

void check_text_fits_model(const data::DataConfig& data, const models::ModelConfig& model) {
  if (model.max_seq_len < data.seq_len)
    throw config::ConfigError("model.max_seq_len: " + std::to_string(model.max_seq_len) +
                              " is smaller than data.seq_len = " + std::to_string(data.seq_len));
}

TextWindows::TextWindows(const data::DataConfig& cfg, uint64_t seed, int64_t val_tokens)
    : data_(data::prepare_lm_data(cfg)) {
  sampler_ = std::make_unique<data::LmSampler>(data_.train, cfg.seq_len, seed);
  val_ = std::make_unique<data::LmValidationSet>(data_.val, cfg.seq_len, val_tokens);
}

TextWindows::Block TextWindows::train(int64_t seqs_per_step, int rank, int world, int64_t micro,
                                      int64_t micro_batch) const {
  const int64_t T = sampler_->seq_len();
  Block block;
  block.first = sampler_->micro_batch_start(seqs_per_step, rank, world, micro, micro_batch);
  block.inputs = torch::empty({micro_batch, T}, torch::kInt32);
  block.targets = torch::empty({micro_batch, T}, torch::kInt32);
  sampler_->fill(block.first, micro_batch, block.inputs.data_ptr<int32_t>(), block.targets.data_ptr<int32_t>());
  return block;
}

TextWindows::Block TextWindows::val(int64_t first, int64_t count) const {
  const int64_t T = val_->seq_len();
  Block block;
  block.first = first;
  block.inputs = torch::empty({count, T}, torch::kInt32);
  block.targets = torch::empty({count, T}, torch::kInt32);
  val_->fill(first, count, block.inputs.data_ptr<int32_t>(), block.targets.data_ptr<int32_t>());
  return block;
}

std::string TextWindows::describe() const {
  return std::to_string(data_.train.size()) + " train / " + std::to_string(data_.val.size()) +
         " validation tokens, " + std::to_string(sampler_->windows_per_epoch()) + " train windows of " +
         std::to_string(sampler_->seq_len()) + ", " + std::to_string(val_->num_windows()) + " validation windows";
}

nlohmann::json TextWindows::state() const {
  return {{"sampler", sampler_->state().to_json()}, {"tokenizer", data_.tokenizer->identity()}};
}

void TextWindows::restore(const nlohmann::json& state) {
  const std::string tok = state.at("tokenizer").get<std::string>();
  if (tok != data_.tokenizer->identity())
    throw std::runtime_error("checkpoint was written with tokenizer '" + tok + "', this run's is '" +
                             data_.tokenizer->identity() + "'");
  sampler_->restore(data::SamplerState::from_json(state.at("sampler")));
}

}  // namespace sigtrain::trainer
