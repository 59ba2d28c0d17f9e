#pragma once
// A tiny real training run on the committed Hamlet fixture, shared by the trainer tests.
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace sigtrain::fixture {

inline std::filesystem::path fresh_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("sigtrain_test_" + name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// Config for a 2-layer byte-level sigmoid LM; `extra` is appended (YAML).
inline std::string write_tiny_config(const std::filesystem::path& dir, const std::string& extra = "") {
  const std::string fixture = std::string(SIGTRAIN_SOURCE_DIR) + "/tests/fixtures/text/hamlet-act-1.txt";
  std::string yaml = "data:\n  corpus: [" + fixture + "]\n  cache_dir: " + (dir / "cache").string() +
                     "\n  seq_len: 32\n  val_fraction: 0.1\n  tokenizer:\n    kind: byte\n"
                     "model:\n  n_layer: 2\n  d_model: 64\n  n_head: 4\n  max_seq_len: 32\n"
                     "attention:\n  kind: sigmoid\n  backend: math\n"
                     "optim:\n  lr_peak: 0.01\n  clip: 1.0\n"
                     "schedule:\n  kind: cosine\n  warmup_steps: 5\n"
                     "train:\n  steps: 20\n  global_batch_tokens: 512\n  micro_batch_size: 8\n  device: cpu\n"
                     "  threads: 1\n"
                     "eval:\n  every: 10\n  tokens: 2048\n  batch_size: 16\n"
                     "checkpoint:\n  every: 10\n  keep_last: 5\n"
                     "logging:\n  every: 5\n  level: warn\n" +
                     extra;
  auto path = dir / "tiny.yaml";
  std::ofstream(path) << yaml;
  return path.string();
}

inline nlohmann::json read_json(const std::filesystem::path& p) {
  std::ifstream in(p);
  return nlohmann::json::parse(in);
}

inline std::vector<nlohmann::json> read_jsonl(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::vector<nlohmann::json> out;
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  return out;
}

}  // namespace sigtrain::fixture
