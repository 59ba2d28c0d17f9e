#pragma once
// Language-model corpus preparation: text files -> tokenizer -> train/validation token shards in a cache.
//
// Config (`data` section; docs/data.md lists every key):
//   data:
//     corpus: [kjv]                  # files, globs, or built-in names (kjv, hamlet, sherlock, tom_sawyer, opticks)
//     cache_dir: .cache/sigtrain     # relative to the working directory
//     val_fraction: 0.05             # the tail of each file (cut at a line end) is held out for validation
//     seq_len: 256                   # training context length T
//     tokenizer:
//       kind: byte                   # byte | sentencepiece | gpt2
//       vocab_size: 4096             # sentencepiece only
//       model_type: bpe              # sentencepiece only: bpe | unigram
//       input_sentence_size: 2000000 # sentencepiece only: cap on training lines
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "common/config.h"
#include "data/token_shard.h"
#include "data/tokenizer.h"

namespace sigtrain::data {

struct TokenizerConfig {
  std::string kind = "byte";  // "byte" | "sentencepiece" | "gpt2" (files from <cache_dir>/tokenizers/gpt2/)
  int64_t vocab_size = 4096;
  std::string model_type = "bpe";
  int64_t input_sentence_size = 2'000'000;
};

struct DataConfig {
  std::vector<std::string> corpus = {"kjv"};
  std::string cache_dir = ".cache/sigtrain";
  double val_fraction = 0.05;
  int64_t seq_len = 256;
  TokenizerConfig tokenizer;

  // Reads every key of the `data` section through `reader` (type/range errors name file, line and key).
  static DataConfig parse(config::SectionReader& reader);
};

// The names `corpus` accepts besides paths, and the file under <cache_dir>/corpora/ each stands for
// (scripts/fetch_data.sh writes them). A name whose `file` is a folder stands for every `*.txt` in it, sorted
// (one document per work: each gets its own validation tail).
struct BuiltinCorpus {
  const char* name;
  const char* file;
  const char* description;
  const char* fetch = "scripts/fetch_data.sh";  // what writes it into the cache
};
const std::vector<BuiltinCorpus>& builtin_corpora();

// Expands `corpus` entries in order: built-in names, globs (sorted matches), plain paths. Throws
// std::runtime_error naming the entry when a file is missing or a glob matches nothing.
std::vector<std::filesystem::path> resolve_corpus(const DataConfig& config);

struct LmData {
  std::unique_ptr<Tokenizer> tokenizer;
  TokenShard train;
  TokenShard val;
  std::filesystem::path dir;  // the cache entry: train.tok, val.tok, tokenizer/, manifest.json
  std::string cache_key;      // hex FNV-1a of (corpus contents in order, val_fraction, tokenizer settings)
  bool from_cache = false;    // true when an existing entry was reused
  std::vector<std::filesystem::path> corpus_files;
};

// Tokenises the corpus into <cache_dir>/lm/<tokenizer>-<key>/ unless that entry already exists, then opens it.
// Each file is one document: its head goes to train, its tail (val_fraction of its bytes, starting at a line
// start) to validation, and documents are separated by the tokenizer's end-of-text id. A SentencePiece model is
// trained on the train parts only; GPT-2's files come from <cache_dir>/tokenizers/gpt2/ (scripts/fetch_data.sh
// gpt2). The entry is built in a temporary folder and renamed into place, so concurrent ranks or runs never see a
// partial entry. A damaged entry is rebuilt. Logs through sigtrain::log.
LmData prepare_lm_data(const DataConfig& config);

}  // namespace sigtrain::data
