#include "data/lm_corpus.h"

#include <glob.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <stdexcept>

#include "common/atomic_file.h"
#include "common/remove_tree.h"
#include "common/log.h"
#include "data/byte_tokenizer.h"
#include "data/fnv1a.h"
#include "data/gpt2_tokenizer.h"
#include "data/sentencepiece_tokenizer.h"

namespace sigtrain::data {
namespace fs = std::filesystem;
namespace {

// Bump when the preparation changes in a way that changes the tokens (split rule, separators, trainer options).
constexpr const char* kPrepVersion = "sigtrain-lm-prep-v1";

std::string builtin_names() {
  std::string names;
  for (const auto& b : builtin_corpora()) names += (names.empty() ? "" : ", ") + std::string(b.name);
  return names;
}

bool has_glob_chars(const std::string& s) { return s.find_first_of("*?[") != std::string::npos; }

// Index just past the first '\n' at or after `pos` (or `pos` when there is none), so the validation tail starts at
// the beginning of a line.
size_t line_start_at_or_after(std::string_view text, size_t pos) {
  if (pos == 0 || pos >= text.size()) return pos;
  if (text[pos - 1] == '\n') return pos;
  const size_t nl = text.find('\n', pos);
  return nl == std::string_view::npos ? pos : nl + 1;
}

void split_lines(std::string_view text, std::vector<std::string_view>* lines) {
  size_t begin = 0;
  while (begin < text.size()) {
    size_t end = text.find('\n', begin);
    if (end == std::string_view::npos) end = text.size();
    lines->push_back(text.substr(begin, end - begin));
    begin = end + 1;
  }
}

std::string format_mb(size_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f MB", static_cast<double>(bytes) / 1e6);
  return buf;
}

struct CorpusText {
  fs::path path;
  std::string text;
  size_t val_begin = 0;  // text[0, val_begin) is train, text[val_begin, end) validation
  uint64_t hash = 0;
};

// GPT-2's files, written by scripts/fetch_data.sh gpt2.
std::unique_ptr<Tokenizer> load_gpt2(const DataConfig& c) {
  const fs::path dir = fs::path(c.cache_dir) / "tokenizers" / "gpt2";
  if (!fs::is_regular_file(dir / "encoder.json") || !fs::is_regular_file(dir / "vocab.bpe"))
    throw std::runtime_error("data.tokenizer.kind: gpt2 needs " + (dir / "encoder.json").string() + " and " +
                             (dir / "vocab.bpe").string() + "; run scripts/fetch_data.sh gpt2");
  return Gpt2Tokenizer::load(dir);
}

// `fixed` is the tokenizer when it does not depend on the corpus (gpt2); its identity joins the key.
std::string cache_key(const DataConfig& c, const std::vector<CorpusText>& files, const Tokenizer* fixed) {
  Fnv1a64 h;
  h.update_field(kPrepVersion);
  for (const auto& f : files) {
    h.update_field(hex64(f.hash));
    h.update_field(std::to_string(f.text.size()));
  }
  char frac[32];
  std::snprintf(frac, sizeof(frac), "%.17g", c.val_fraction);
  h.update_field(frac);
  h.update_field(c.tokenizer.kind);
  if (c.tokenizer.kind == "sentencepiece") {
    h.update_field(std::to_string(c.tokenizer.vocab_size));
    h.update_field(c.tokenizer.model_type);
    h.update_field(std::to_string(c.tokenizer.input_sentence_size));
  }
  if (fixed != nullptr) h.update_field(fixed->identity());
  return hex64(h.digest());
}

std::string entry_name(const DataConfig& c, const std::string& key) {
  const std::string tok = c.tokenizer.kind == "sentencepiece"
                              ? "sp-" + c.tokenizer.model_type + std::to_string(c.tokenizer.vocab_size)
                              : c.tokenizer.kind;
  return tok + "-" + key;
}

std::unique_ptr<Tokenizer> make_tokenizer(const DataConfig& c, const std::vector<CorpusText>& files,
                                          std::unique_ptr<Tokenizer> fixed) {
  if (fixed != nullptr) return fixed;
  if (c.tokenizer.kind == "byte") return std::make_unique<ByteTokenizer>();
  std::vector<std::string_view> lines;
  for (const auto& f : files) split_lines(std::string_view(f.text).substr(0, f.val_begin), &lines);
  SentencePieceOptions opt;
  opt.model_type = c.tokenizer.model_type;
  opt.vocab_size = static_cast<int32_t>(c.tokenizer.vocab_size);
  opt.input_sentence_size = c.tokenizer.input_sentence_size;
  return SentencePieceTokenizer::train(lines, opt);
}

// Every document (file part) followed by end-of-text, so the model sees where one text ends and the next begins.
std::vector<int32_t> encode_parts(const Tokenizer& tok, const std::vector<CorpusText>& files, bool val) {
  std::vector<int32_t> ids;
  for (const auto& f : files) {
    const std::string_view text = std::string_view(f.text);
    const std::string_view part = val ? text.substr(f.val_begin) : text.substr(0, f.val_begin);
    if (part.empty()) continue;
    const std::vector<int32_t> part_ids = tok.encode(part);
    ids.insert(ids.end(), part_ids.begin(), part_ids.end());
    ids.push_back(tok.eot_id());
  }
  return ids;
}

// Opens a finished entry; throws when anything is missing or damaged.
LmData open_entry(const fs::path& dir, const std::string& key) {
  const nlohmann::json manifest = nlohmann::json::parse(sigtrain::read_file((dir / "manifest.json").string()));
  if (manifest.value("key", "") != key)
    throw std::runtime_error((dir / "manifest.json").string() + ": key mismatch");
  LmData d;
  d.tokenizer = load_tokenizer(dir / "tokenizer");
  d.train = TokenShard::open(dir / "train.tok");
  d.val = TokenShard::open(dir / "val.tok");
  if (d.train.vocab_size() != d.tokenizer->vocab_size() || d.val.vocab_size() != d.tokenizer->vocab_size())
    throw std::runtime_error(dir.string() + ": shard vocab size differs from the tokenizer's");
  d.dir = dir;
  d.cache_key = key;
  return d;
}

}  // namespace

const std::vector<BuiltinCorpus>& builtin_corpora() {
  static const std::vector<BuiltinCorpus> kAll = {
      {"kjv", "kjv.txt", "King James Bible, Debian bible-kjv (4.3 MB, verse references stripped)"},
      {"hamlet", "hamlet-act-1.txt", "Hamlet act 1, Debian golang-github-golang-leveldb-dev (38 KB)"},
      {"sherlock", "sherlock-holmes.txt", "Adventures of Sherlock Holmes, Debian golang-github-pierrec-lz4-dev"},
      {"tom_sawyer", "tom-sawyer.txt", "Tom Sawyer, Debian golang-github-pierrec-lz4-dev"},
      {"opticks", "opticks.txt", "Newton's Opticks, Debian golang-github-andybalholm-brotli-dev"},
      {"gutenberg", "gutenberg", "public-domain English from Debian packages, one file per work (~31 MB)",
       "scripts/lm/build_gutenberg_corpus.sh"},
  };
  return kAll;
}

DataConfig DataConfig::parse(config::SectionReader& r) {
  DataConfig c;
  c.corpus = r.get_string_list("corpus", c.corpus);
  if (c.corpus.empty())
    r.fail("corpus", "expected at least one text file, glob or built-in corpus name (" + builtin_names() + ")");
  for (const auto& entry : c.corpus)
    if (entry.empty()) r.fail("corpus", "expected non-empty entries");
  c.cache_dir = r.get_string("cache_dir", c.cache_dir);
  if (c.cache_dir.empty()) r.fail("cache_dir", "expected a directory path, got an empty string");
  c.val_fraction = r.get_double("val_fraction", c.val_fraction, 0.001, 0.5);
  c.seq_len = r.get_int("seq_len", c.seq_len, 1, 1 << 20);

  config::SectionReader t = r.sub("tokenizer");
  c.tokenizer.kind = t.get_enum("kind", c.tokenizer.kind, {"byte", "sentencepiece", "gpt2"});
  if (c.tokenizer.kind == "sentencepiece") {
    // Below ~300 there is no room beyond the 256 byte pieces and the specials.
    c.tokenizer.vocab_size = t.get_int("vocab_size", c.tokenizer.vocab_size, 300, 1 << 20);
    c.tokenizer.model_type = t.get_enum("model_type", c.tokenizer.model_type, {"bpe", "unigram"});
    c.tokenizer.input_sentence_size =
        t.get_int("input_sentence_size", c.tokenizer.input_sentence_size, 1000, INT64_MAX);
  } else {
    for (const char* key : {"vocab_size", "model_type", "input_sentence_size"})
      if (t.has(key)) t.fail(key, "only used with data.tokenizer.kind: sentencepiece (byte has 257 ids, gpt2 50257)");
  }
  return c;
}

std::vector<fs::path> resolve_corpus(const DataConfig& config) {
  std::vector<fs::path> files;
  for (const std::string& entry : config.corpus) {
    const BuiltinCorpus* builtin = nullptr;
    for (const auto& b : builtin_corpora())
      if (entry == b.name) builtin = &b;
    if (builtin != nullptr) {
      const fs::path p = fs::path(config.cache_dir) / "corpora" / builtin->file;
      std::vector<fs::path> works;
      if (fs::is_directory(p)) {
        for (const auto& e : fs::directory_iterator(p))
          if (e.is_regular_file() && e.path().extension() == ".txt") works.push_back(e.path());
        std::sort(works.begin(), works.end());
      } else if (fs::is_regular_file(p)) {
        works.push_back(p);
      }
      if (works.empty())
        throw std::runtime_error("data.corpus: built-in corpus '" + entry + "' is not in the cache (" + p.string() +
                                 "); run " + builtin->fetch);
      files.insert(files.end(), works.begin(), works.end());
    } else if (has_glob_chars(entry)) {
      glob_t g{};
      const int rc = ::glob(entry.c_str(), 0, nullptr, &g);  // matches come back sorted
      if (rc == GLOB_NOMATCH || (rc == 0 && g.gl_pathc == 0)) {
        globfree(&g);
        throw std::runtime_error("data.corpus: glob '" + entry + "' matches no file");
      }
      if (rc != 0) {
        globfree(&g);
        throw std::runtime_error("data.corpus: glob '" + entry + "' failed");
      }
      for (size_t i = 0; i < g.gl_pathc; ++i)
        if (fs::is_regular_file(g.gl_pathv[i])) files.emplace_back(g.gl_pathv[i]);
      globfree(&g);
    } else {
      if (!fs::is_regular_file(entry))
        throw std::runtime_error("data.corpus: '" + entry + "' is neither a file nor a built-in corpus name (" +
                                 builtin_names() + ")");
      files.emplace_back(entry);
    }
  }
  return files;
}

LmData prepare_lm_data(const DataConfig& config) {
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<CorpusText> texts;
  size_t total_bytes = 0;
  for (const fs::path& p : resolve_corpus(config)) {
    CorpusText t;
    t.path = p;
    t.text = sigtrain::read_file(p.string());
    t.hash = fnv1a64(t.text.data(), t.text.size());
    const auto cut = static_cast<size_t>(static_cast<double>(t.text.size()) * (1.0 - config.val_fraction));
    t.val_begin = line_start_at_or_after(t.text, cut);
    total_bytes += t.text.size();
    texts.push_back(std::move(t));
  }
  std::unique_ptr<Tokenizer> fixed = config.tokenizer.kind == "gpt2" ? load_gpt2(config) : nullptr;
  const std::string key = cache_key(config, texts, fixed.get());
  const fs::path lm_dir = fs::path(config.cache_dir) / "lm";
  const fs::path dir = lm_dir / entry_name(config, key);
  std::vector<fs::path> files;
  for (const auto& t : texts) files.push_back(t.path);

  if (fs::exists(dir / "manifest.json")) {
    try {
      LmData d = open_entry(dir, key);
      d.from_cache = true;
      d.corpus_files = files;
      sigtrain::log::info("data: reusing " + dir.string() + " (" + std::to_string(d.train.size()) + " train / " +
                          std::to_string(d.val.size()) + " val tokens, " + d.tokenizer->name() + ")");
      return d;
    } catch (const std::exception& e) {
      sigtrain::log::warn(std::string("data: cache entry is damaged, rebuilding it: ") + e.what());
      remove_tree(dir.string());
    }
  }

  sigtrain::log::info("data: tokenising " + std::to_string(texts.size()) + " file(s), " + format_mb(total_bytes) +
                      ", with " + config.tokenizer.kind + " into " + dir.string());
  fs::create_directories(lm_dir);
  const fs::path tmp = lm_dir / (".tmp-" + key + "-" + std::to_string(::getpid()));
  remove_tree(tmp.string());
  fs::create_directories(tmp);
  try {
    const std::unique_ptr<Tokenizer> tok = make_tokenizer(config, texts, std::move(fixed));
    tok->save(tmp / "tokenizer");
    const std::vector<int32_t> train = encode_parts(*tok, texts, /*val=*/false);
    const std::vector<int32_t> val = encode_parts(*tok, texts, /*val=*/true);
    write_token_shard(tmp / "train.tok", train, tok->vocab_size());
    write_token_shard(tmp / "val.tok", val, tok->vocab_size());
    nlohmann::json manifest = {{"key", key},
                               {"prep_version", kPrepVersion},
                               {"tokenizer", tok->identity()},
                               {"val_fraction", config.val_fraction},
                               {"train_tokens", train.size()},
                               {"val_tokens", val.size()},
                               {"files", nlohmann::json::array()}};
    for (const auto& t : texts)
      manifest["files"].push_back({{"path", t.path.string()}, {"bytes", t.text.size()}, {"fnv1a64", hex64(t.hash)},
                                   {"train_bytes", t.val_begin}});
    // The manifest is written last: its presence marks a complete entry.
    sigtrain::write_file_atomic((tmp / "manifest.json").string(), manifest.dump(2) + "\n");
  } catch (...) {
    remove_tree(tmp.string());
    throw;
  }
  std::error_code ec;
  fs::rename(tmp, dir, ec);
  if (ec) {
    // Another process finished the same entry first; its content is identical by construction.
    remove_tree(tmp.string());
    if (!fs::exists(dir / "manifest.json"))
      throw std::runtime_error("data: cannot move " + tmp.string() + " to " + dir.string() + ": " + ec.message());
  }
  LmData d = open_entry(dir, key);
  d.corpus_files = files;
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  char buf[64];
  std::snprintf(buf, sizeof(buf), " in %.1f s", secs);
  sigtrain::log::info("data: wrote " + std::to_string(d.train.size()) + " train / " + std::to_string(d.val.size()) +
                      " val tokens (" + d.tokenizer->name() + ")" + buf);
  return d;
}

}  // namespace sigtrain::data
