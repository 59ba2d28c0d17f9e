#pragma once
// A tiny real training run on the committed Hamlet fixture, shared by the trainer tests.
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/remove_tree.h"
#include "trainer/loop/trainer.h"

namespace sigtrain::fixture {

inline std::filesystem::path fresh_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("sigtrain_test_" + name);
  sigtrain::remove_tree(dir.string());
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

inline std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Trains the tiny config of `dir` (write_tiny_config) into dir / name with `overrides`; returns run_training's exit
// code.
inline int train_tiny(const std::filesystem::path& dir, const std::string& name,
                      const std::vector<std::string>& overrides = {}) {
  trainer::TrainOptions opts;
  opts.config_files = {write_tiny_config(dir)};
  opts.overrides = overrides;
  opts.run_dir = (dir / name).string();
  return trainer::run_training(opts);
}

// A copy of a finished 20-step run (checkpoints at 10 and 20) as if it had crashed after step 10: the later
// checkpoint and the summary are gone and metrics.jsonl runs past step 10. Resuming the copy in place must give
// back the original run.
inline void copy_as_crashed_after_step_10(const std::filesystem::path& run, const std::filesystem::path& copy) {
  std::filesystem::copy(run, copy, std::filesystem::copy_options::recursive);
  sigtrain::remove_tree((copy / "checkpoints" / "step_00000020").string());
  std::filesystem::remove(copy / "summary.json");
}

// Resumes `run_dir` in place from its latest checkpoint, with the checkpoint's own config (no --config) plus
// `overrides`; returns run_training's exit code.
inline int resume_in_place(const std::filesystem::path& run_dir, const std::vector<std::string>& overrides = {}) {
  trainer::TrainOptions resumed;
  resumed.run_dir = run_dir.string();
  resumed.resume = "";
  resumed.overrides = overrides;
  return trainer::run_training(resumed);
}

// The two runs ended with the same parameters (checksum) and the same final losses, bit for bit.
inline void expect_same_summary(const std::filesystem::path& a_dir, const std::filesystem::path& b_dir) {
  auto a = read_json(a_dir / "summary.json");
  auto b = read_json(b_dir / "summary.json");
  EXPECT_EQ(a["param_checksum"], b["param_checksum"]);
  EXPECT_EQ(a["final_train_loss"], b["final_train_loss"]);
  EXPECT_EQ(a["final_val_loss"], b["final_val_loss"]);
}

// The two runs' metrics.jsonl hold the same records (step, type) with the same loss, grad norm, lr and validation
// loss, bit for bit.
inline void expect_same_records(const std::filesystem::path& a_dir, const std::filesystem::path& b_dir) {
  auto ra = read_jsonl(a_dir / "metrics.jsonl");
  auto rb = read_jsonl(b_dir / "metrics.jsonl");
  ASSERT_EQ(ra.size(), rb.size());
  for (size_t i = 0; i < ra.size(); ++i) {
    EXPECT_EQ(ra[i]["step"], rb[i]["step"]);
    EXPECT_EQ(ra[i]["type"], rb[i]["type"]);
    for (const char* k : {"loss", "grad_norm", "lr", "val_loss"})
      if (ra[i].contains(k)) EXPECT_EQ(ra[i][k], rb[i][k]) << k << " at step " << ra[i]["step"];
  }
}

}  // namespace sigtrain::fixture
