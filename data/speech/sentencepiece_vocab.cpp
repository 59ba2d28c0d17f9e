#include "data/speech/sentencepiece_vocab.h"

#include <unistd.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <string_view>

#include "common/atomic_file.h"
#include "common/remove_tree.h"
#include "common/log.h"
#include "data/fnv1a.h"
#include "data/sentencepiece_tokenizer.h"
#include "data/speech/speech_error.h"
#include "data/speech/utf8.h"

namespace sigtrain::speech {
namespace fs = std::filesystem;
namespace {

// Bump when the training lines or the id layout change for the same transcripts and options.
constexpr const char* kPrepVersion = "sigtrain-speech-sp-v1";

// The model's vocabulary for `options.vocab_size` CTC ids.
int32_t model_vocab_size(const SentencePieceVocabOptions& o) {
  return static_cast<int32_t>(o.vocab_size - 1 + SentencePieceVocab::kNonCtcPieces);
}

std::string cache_key(const std::vector<std::string>& texts, const SentencePieceVocabOptions& o) {
  data::Fnv1a64 h;
  h.update_field(kPrepVersion);
  h.update_field(o.model_type);
  h.update_field(std::to_string(o.vocab_size));
  h.update_field(std::to_string(texts.size()));
  for (const auto& t : texts) h.update_field(t);
  return data::hex64(h.digest());
}

std::shared_ptr<const data::SentencePieceTokenizer> load_model(const fs::path& file, const std::string& model_type) {
  return std::shared_ptr<const data::SentencePieceTokenizer>(data::SentencePieceTokenizer::load(file, model_type));
}

}  // namespace

SentencePieceVocab SentencePieceVocab::from_tokenizer(std::shared_ptr<const data::SentencePieceTokenizer> tok) {
  SentencePieceVocab v;
  v.tokenizer_ = std::move(tok);
  const int32_t n = v.tokenizer_->vocab_size();
  v.piece_to_ctc_.assign(static_cast<size_t>(n), kSpecialPiece);
  v.ctc_to_piece_ = {-1};
  v.symbols_ = {kBlankSymbol};
  for (int32_t id = 0; id < n; ++id) {
    if (v.tokenizer_->is_special(id)) continue;
    if (v.tokenizer_->is_byte(id)) {
      v.piece_to_ctc_[static_cast<size_t>(id)] = kBytePiece;
      continue;
    }
    const auto ctc = static_cast<int32_t>(v.symbols_.size());
    v.piece_to_ctc_[static_cast<size_t>(id)] = ctc;
    v.ctc_to_piece_.push_back(id);
    v.symbols_.push_back(v.tokenizer_->piece(id));
  }
  if (v.symbols_.size() < 2)
    throw std::runtime_error("SentencePiece CTC vocabulary: the model " + v.tokenizer_->name() +
                             " has no ordinary pieces");
  for (size_t i = 0; i < v.symbols_.size(); ++i)
    if (!v.ids_.emplace(v.symbols_[i], static_cast<int32_t>(i)).second)
      throw std::runtime_error("SentencePiece CTC vocabulary: piece '" + v.symbols_[i] + "' appears twice");
  return v;
}

SentencePieceVocab SentencePieceVocab::train(const std::vector<std::string>& texts,
                                             const SentencePieceVocabOptions& options) {
  // The dummy prefix (" " + text) is added here rather than by the trainer, whose settings are the LM's.
  std::vector<std::string> lines;
  lines.reserve(texts.size());
  for (const auto& t : texts)
    if (!t.empty()) lines.push_back(" " + t);
  std::vector<std::string_view> views(lines.begin(), lines.end());
  data::SentencePieceOptions o;
  o.model_type = options.model_type;
  o.vocab_size = model_vocab_size(options);
  return from_tokenizer(data::SentencePieceTokenizer::train(views, o));
}

SentencePieceVocab SentencePieceVocab::prepare(const std::vector<std::string>& texts,
                                               const SentencePieceVocabOptions& options, const std::string& cache_dir,
                                               bool* from_cache) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::string key = cache_key(texts, options);
  const fs::path root = fs::path(cache_dir) / "speech" / "vocab";
  const fs::path dir = root / ("sp-" + options.model_type + std::to_string(options.vocab_size) + "-" + key);
  const fs::path model = dir / "tokenizer" / "tokenizer.model";
  if (from_cache != nullptr) *from_cache = false;

  if (fs::exists(dir / "manifest.json")) {
    try {
      const nlohmann::json m = nlohmann::json::parse(read_file((dir / "manifest.json").string()));
      if (m.value("key", "") != key) throw std::runtime_error("key mismatch");
      SentencePieceVocab v = from_tokenizer(load_model(model, options.model_type));
      if (m.value("identity", "") != v.identity()) throw std::runtime_error("model identity mismatch");
      if (from_cache != nullptr) *from_cache = true;
      log::info("speech vocabulary: reusing " + dir.string() + " (" + std::to_string(v.size()) + " CTC ids, " +
                v.tokenizer().name() + ")");
      return v;
    } catch (const std::exception& e) {
      log::warn(std::string("speech vocabulary: cache entry is damaged, rebuilding it: ") + e.what());
      remove_tree(dir.string());
    }
  }

  fs::create_directories(root);
  const fs::path tmp = root / (".tmp-" + key + "-" + std::to_string(::getpid()));
  remove_tree(tmp.string());
  fs::create_directories(tmp);
  try {
    const SentencePieceVocab v = train(texts, options);
    v.tokenizer().save(tmp / "tokenizer");
    const nlohmann::json manifest = {{"key", key},
                                     {"prep_version", kPrepVersion},
                                     {"identity", v.identity()},
                                     {"model_type", options.model_type},
                                     {"vocab_size_requested", options.vocab_size},
                                     {"vocab_size", v.size()},
                                     {"transcripts", texts.size()}};
    // The manifest is written last: its presence marks a complete entry.
    write_file_atomic((tmp / "manifest.json").string(), manifest.dump(2) + "\n");
  } catch (...) {
    remove_tree(tmp.string());
    throw;
  }
  std::error_code ec;
  fs::rename(tmp, dir, ec);
  if (ec) {  // another process finished the same entry first; its content is identical by construction
    remove_tree(tmp.string());
    if (!fs::exists(dir / "manifest.json"))
      throw std::runtime_error("speech vocabulary: cannot move " + tmp.string() + " to " + dir.string() + ": " +
                               ec.message());
  }
  SentencePieceVocab v = from_tokenizer(load_model(model, options.model_type));
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  char took[32];
  std::snprintf(took, sizeof(took), "%.1f s", secs);
  log::info("speech vocabulary: trained " + v.tokenizer().name() + " on " + std::to_string(texts.size()) +
            " transcripts in " + took + ": " + std::to_string(v.size()) + " CTC ids (" +
            std::to_string(options.vocab_size) + " asked), " + dir.string());
  return v;
}

int32_t SentencePieceVocab::id(const std::string& piece) const {
  const auto it = ids_.find(piece);
  return it == ids_.end() ? -1 : it->second;
}

std::vector<int32_t> SentencePieceVocab::encode(const std::string& text, UnknownCharPolicy policy,
                                                UnknownCharReport* report, const std::string& context) const {
  std::vector<int32_t> ids;
  if (text.empty()) return ids;
  const std::vector<int32_t> pieces = tokenizer_->encode(" " + text);
  bool any_unknown = false;
  for (size_t i = 0; i < pieces.size();) {
    const int32_t ctc = piece_to_ctc_[static_cast<size_t>(pieces[i])];
    if (ctc > kBlank) {
      ids.push_back(ctc);
      ++i;
      continue;
    }
    // A run of byte pieces spells characters no piece covers (specials never come out of encode; treat them alike).
    size_t end = i + 1;
    while (end < pieces.size() && piece_to_ctc_[static_cast<size_t>(pieces[end])] < 0) ++end;
    const std::vector<int32_t> run(pieces.begin() + static_cast<std::ptrdiff_t>(i),
                                   pieces.begin() + static_cast<std::ptrdiff_t>(end));
    for (const auto& ch : utf8_chars(tokenizer_->decode(run))) {
      if (policy == UnknownCharPolicy::kError) throw_unknown_char(ch, context);
      any_unknown = true;
      if (report != nullptr) report->add(ch);
    }
    i = end;
  }
  if (report != nullptr && any_unknown) ++report->texts;
  return ids;
}

std::string SentencePieceVocab::decode(const std::vector<int32_t>& ids) const {
  std::vector<int32_t> pieces;
  pieces.reserve(ids.size());
  for (const int32_t i : ids)
    if (i > kBlank && i < size()) pieces.push_back(ctc_to_piece_[static_cast<size_t>(i)]);
  std::string text = tokenizer_->decode(pieces);
  if (!text.empty() && text.front() == ' ') text.erase(0, 1);  // the dummy prefix of encode()
  return text;
}

std::string SentencePieceVocab::identity() const { return std::string(kKind) + "/" + tokenizer_->identity(); }

void SentencePieceVocab::save(const std::string& path) const {
  const fs::path json_path(path);
  const fs::path model_path = fs::path(json_path).replace_extension(".model");
  write_file_atomic(model_path.string(), tokenizer_->model_bytes());
  const nlohmann::json j = {{"kind", kKind},
                            {"blank", kBlank},
                            {"model", model_path.filename().string()},
                            {"model_type", tokenizer_->model_type()},
                            {"identity", identity()},
                            {"symbols", symbols_}};
  write_file_atomic(path, j.dump(1) + "\n");
}

SentencePieceVocab SentencePieceVocab::load(const std::string& path) {
  try {
    const nlohmann::json j = nlohmann::json::parse(read_file(path));
    if (!j.is_object() || j.value("kind", "") != kKind)
      throw std::runtime_error(std::string("expected an object with \"kind\": \"") + kKind + "\"");
    const std::string model = j.value("model", "");
    if (model.empty()) throw std::runtime_error("missing field 'model' (the SentencePiece model file)");
    const fs::path model_path = fs::path(path).parent_path() / model;
    SentencePieceVocab v = from_tokenizer(load_model(model_path, j.value("model_type", "unigram")));
    if (j.value("identity", "") != v.identity())
      throw std::runtime_error("the model " + model_path.string() + " is " + v.identity() + ", the file names " +
                               j.value("identity", "(none)"));
    if (j.contains("symbols") && j.at("symbols").get<std::vector<std::string>>() != v.symbols())
      throw std::runtime_error("'symbols' differ from the pieces of " + model_path.string());
    return v;
  } catch (const SpeechDataError&) {
    throw;
  } catch (const std::exception& e) {
    throw_data_error(path, 0, std::string("SentencePiece CTC vocabulary: ") + e.what());
  }
}

}  // namespace sigtrain::speech
