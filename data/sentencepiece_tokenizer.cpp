#include "data/sentencepiece_tokenizer.h"

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <nlohmann/json.hpp>

#include "common/atomic_file.h"

#include <stdexcept>
#include <unordered_map>

#include "data/fnv1a.h"

namespace sigtrain::data {
namespace {

constexpr unsigned kTrainerSeed = 20240611;  // fixed: the library's seed only matters for sampling paths

// Feeds the non-empty lines to the trainer without writing a temporary corpus file.
class LineIterator final : public sentencepiece::SentenceIterator {
 public:
  explicit LineIterator(const std::vector<std::string_view>& lines) : lines_(lines) { skip_empty(); }
  bool done() const override { return index_ >= lines_.size(); }
  void Next() override {
    ++index_;
    skip_empty();
  }
  const std::string& value() const override { return current_; }
  sentencepiece::util::Status status() const override { return {}; }

 private:
  void skip_empty() {
    while (index_ < lines_.size() && lines_[index_].empty()) ++index_;
    if (index_ < lines_.size()) current_.assign(lines_[index_]);
  }
  const std::vector<std::string_view>& lines_;
  size_t index_ = 0;
  std::string current_;
};

}  // namespace

SentencePieceTokenizer::~SentencePieceTokenizer() = default;

std::unique_ptr<SentencePieceTokenizer> SentencePieceTokenizer::train(const std::vector<std::string_view>& lines,
                                                                      const SentencePieceOptions& options) {
  if (options.model_type != "bpe" && options.model_type != "unigram")
    throw std::runtime_error("sentencepiece: model_type must be bpe or unigram, got '" + options.model_type + "'");
  const std::unordered_map<std::string, std::string> args = {
      {"model_type", options.model_type},
      {"vocab_size", std::to_string(options.vocab_size)},
      {"input_sentence_size", std::to_string(options.input_sentence_size)},
      {"shuffle_input_sentence", "false"},
      {"num_threads", "1"},
      {"max_sentence_length", std::to_string(options.max_sentence_length)},
      {"normalization_rule_name", "identity"},
      {"remove_extra_whitespaces", "false"},
      {"add_dummy_prefix", "false"},
      {"byte_fallback", "true"},
      {"hard_vocab_limit", "false"},
      {"unk_id", "0"},
      {"eos_id", "1"},
      {"bos_id", "-1"},
      {"pad_id", "-1"},
      {"eos_piece", std::string(kEndOfTextText)},
      {"minloglevel", "1"},  // the trainer's INFO lines would flood the training log
  };
  sentencepiece::SetRandomGeneratorSeed(kTrainerSeed);
  LineIterator it(lines);
  if (it.done()) throw std::runtime_error("sentencepiece: no non-empty training lines");
  std::string model;
  const auto status = sentencepiece::SentencePieceTrainer::Train(args, &it, &model);
  if (!status.ok())
    throw std::runtime_error("sentencepiece: training a " + options.model_type + " model with vocab_size " +
                             std::to_string(options.vocab_size) + " failed: " + status.ToString());
  return from_model_bytes(std::move(model), options.model_type, "<trained model>");
}

std::unique_ptr<SentencePieceTokenizer> SentencePieceTokenizer::from_model_bytes(std::string model_bytes,
                                                                                 std::string model_type,
                                                                                 const std::string& origin) {
  std::unique_ptr<SentencePieceTokenizer> tok(new SentencePieceTokenizer());
  tok->sp_ = std::make_unique<sentencepiece::SentencePieceProcessor>();
  const auto status = tok->sp_->LoadFromSerializedProto(model_bytes);
  if (!status.ok()) throw std::runtime_error(origin + ": not a SentencePiece model: " + status.ToString());
  tok->model_bytes_ = std::move(model_bytes);
  tok->vocab_size_ = tok->sp_->GetPieceSize();
  tok->eot_id_ = tok->sp_->PieceToId(kEndOfTextText);
  tok->newline_id_ = tok->sp_->PieceToId("<0x0A>");
  if (tok->eot_id_ <= 0 || tok->sp_->IdToPiece(tok->eot_id_) != kEndOfTextText)
    throw std::runtime_error(origin + ": SentencePiece model has no " + std::string(kEndOfTextText) +
                             " piece (was it trained by sigtrain?)");
  if (tok->newline_id_ <= 0 || !tok->sp_->IsByte(tok->newline_id_))
    throw std::runtime_error(origin + ": SentencePiece model has no byte-fallback pieces (need byte_fallback=true)");
  tok->model_type_ = std::move(model_type);
  return tok;
}

std::unique_ptr<SentencePieceTokenizer> SentencePieceTokenizer::load(const std::filesystem::path& model_file,
                                                                     std::string model_type) {
  return from_model_bytes(sigtrain::read_file(model_file.string()), std::move(model_type), model_file.string());
}

std::vector<int32_t> SentencePieceTokenizer::encode(std::string_view text) const {
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 1);
  size_t begin = 0;
  while (true) {
    const size_t end = text.find('\n', begin);
    const std::string_view line = text.substr(begin, end == std::string_view::npos ? std::string_view::npos : end - begin);
    if (!line.empty()) {
      const std::vector<int> piece_ids = sp_->EncodeAsIds(line);
      ids.insert(ids.end(), piece_ids.begin(), piece_ids.end());
    }
    if (end == std::string_view::npos) break;
    ids.push_back(newline_id_);
    begin = end + 1;
  }
  return ids;
}

std::string SentencePieceTokenizer::decode(std::span<const int32_t> ids) const {
  std::string out;
  std::vector<int> run;
  auto flush = [&] {
    if (!run.empty()) out += sp_->DecodeIds(run);
    run.clear();
  };
  for (const int32_t id : ids) {
    if (id < 0 || id >= vocab_size_)
      throw std::runtime_error(name() + ": cannot decode id " + std::to_string(id) + " (vocab size " +
                               std::to_string(vocab_size_) + ")");
    if (id == eot_id_) {
      flush();
      out.append(kEndOfTextText);
    } else {
      run.push_back(id);
    }
  }
  flush();
  return out;
}

void SentencePieceTokenizer::check_id(int32_t id) const {
  if (id < 0 || id >= vocab_size_)
    throw std::out_of_range(name() + ": no piece " + std::to_string(id) + " (vocab size " +
                            std::to_string(vocab_size_) + ")");
}

std::string SentencePieceTokenizer::piece(int32_t id) const {
  check_id(id);
  return sp_->IdToPiece(id);
}

bool SentencePieceTokenizer::is_byte(int32_t id) const {
  check_id(id);
  return sp_->IsByte(id);
}

bool SentencePieceTokenizer::is_special(int32_t id) const {
  check_id(id);
  return sp_->IsUnknown(id) || sp_->IsControl(id);
}

std::string SentencePieceTokenizer::name() const {
  return "sentencepiece-" + model_type_ + "-" + std::to_string(vocab_size_);
}

std::string SentencePieceTokenizer::identity() const {
  return name() + "/" + hex64(fnv1a64(model_bytes_.data(), model_bytes_.size()));
}

void SentencePieceTokenizer::save(const std::filesystem::path& dir) const {
  std::filesystem::create_directories(dir);
  sigtrain::write_file_atomic((dir / "tokenizer.model").string(), model_bytes_);
  const nlohmann::json j = {{"kind", "sentencepiece"}, {"identity", identity()},   {"model", "tokenizer.model"},
                            {"model_type", model_type_}, {"vocab_size", vocab_size_}, {"eot_id", eot_id_}};
  sigtrain::write_file_atomic((dir / "tokenizer.json").string(), j.dump(2) + "\n");
}

}  // namespace sigtrain::data
