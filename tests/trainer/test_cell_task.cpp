// The single-cell masked-expression task (trainer/tasks/cell_task.h) on the committed pbmc_small fixture (80 cells x
// 230 genes, 3 Seurat clusters): masking, overfitting a fixed batch, bit-exact resume, the embedding metrics in the
// eval record, config checks, and `sigtrain data inspect`.
#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/config.h"
#include "models/model.h"
#include "tests/trainer/training_fixture.h"
#include "trainer/tasks/cell_task.h"
#include "trainer/loop/run_config.h"
#include "trainer/loop/trainer.h"

namespace sigtrain {
namespace {

namespace fs = std::filesystem;

std::string fixture_file(const std::string& name) {
  return std::string(SIGTRAIN_SOURCE_DIR) + "/tests/fixtures/singlecell/" + name;
}

// configs/singlecell/smoke_cpu.yaml: a 2-layer, 32-wide encoder on pbmc_small, max_len 128, 11 value bins, 16 cells
// per step (global_batch_tokens / max_len) in micro-batches of 8, 20 steps, eval and checkpoints every 10.
const std::string kSmoke = std::string(SIGTRAIN_SOURCE_DIR) + "/configs/singlecell/smoke_cpu.yaml";
const std::vector<std::string> kGeneformer = {"singlecell.tokenization=geneformer", "model.value_input=false",
                                              "model.positions=learned"};

using fixture::read_json;
using fixture::read_jsonl;

trainer::RunConfig load(const std::string& file, const std::vector<std::string>& overrides = {}) {
  return trainer::load_run_config({file}, overrides);
}

std::unique_ptr<trainer::CellTask> make_cell_task(const trainer::RunConfig& cfg) {
  return std::make_unique<trainer::CellTask>(cfg.task_as<trainer::CellTaskConfig>().singlecell, cfg.model,
                                             cfg.train.seed, cfg.train.micro_batch_size, cfg.eval.tokens,
                                             cfg.eval.batch_size);
}

TEST(CellTask, MaskingNeverTouchesClsOrPadding) {
  for (const std::string kind : {"scgpt", "geneformer"}) {
    auto cfg = load(kSmoke, kind == "scgpt" ? std::vector<std::string>{} : kGeneformer);
    auto task = make_cell_task(cfg);
    const torch::Device cpu(torch::kCPU);
    int64_t masked_total = 0;
    // Every micro-batch of two epochs' worth of steps (2 epochs: 60 train cells / 8 = 8 batches each).
    for (int64_t step = 0; step < 8; ++step) {
      for (int64_t micro = 0; micro < 2; ++micro) {
        trainer::Batch b = task->train_batch(16, 0, 1, micro, 8, cpu);
        const int64_t B = b.inputs.tokens.size(0), T = b.inputs.tokens.size(1);
        ASSERT_LE(B, 8);
        auto tok = b.inputs.tokens, tgt = b.targets, len = b.inputs.lengths.to(torch::kLong);
        for (int64_t r = 0; r < B; ++r) {
          const int64_t L = len[r].item<int64_t>();
          EXPECT_EQ(tok[r][0].item<int64_t>(), singlecell::GeneVocab::kCls);
          EXPECT_EQ(tgt[r][0].item<int64_t>(), trainer::kIgnoreTarget) << "CLS masked";
          int64_t masked = 0;
          for (int64_t t = 0; t < T; ++t) {
            const int64_t y = tgt[r][t].item<int64_t>();
            if (t >= L) {
              EXPECT_EQ(y, trainer::kIgnoreTarget) << "padding masked";
              EXPECT_EQ(tok[r][t].item<int64_t>(), singlecell::GeneVocab::kPad);
              if (kind == "scgpt") EXPECT_EQ(b.inputs.values[r][t].item<float>(), 0.0f);
              continue;
            }
            if (y == trainer::kIgnoreTarget) {
              EXPECT_NE(tok[r][t].item<int64_t>(), singlecell::GeneVocab::kMask);
              if (kind == "scgpt") EXPECT_GE(b.inputs.values[r][t].item<float>(), 0.0f);
              continue;
            }
            ++masked;
            if (kind == "scgpt") {  // the value is hidden, the gene stays; the target is its bin
              EXPECT_EQ(b.inputs.values[r][t].item<float>(), trainer::CellTask::kMaskedValue);
              EXPECT_GE(tok[r][t].item<int64_t>(), singlecell::GeneVocab::kFirstGene);
              EXPECT_GE(y, 1);
              EXPECT_LE(y, 10);
            } else {  // the gene is replaced by <mask>; the target is the gene
              EXPECT_EQ(tok[r][t].item<int64_t>(), singlecell::GeneVocab::kMask);
              EXPECT_GE(y, singlecell::GeneVocab::kFirstGene);
            }
          }
          if (L > 1) EXPECT_EQ(masked, std::max<int64_t>(1, std::llround(0.15 * static_cast<double>(L - 1))));
          masked_total += masked;
        }
      }
      task->advance(16);
    }
    EXPECT_GT(masked_total, 0);
    // The in-memory tokens (a small dataset) are exactly what on-demand tokenisation gives.
    ASSERT_TRUE(task->tokens_cached());
    const std::vector<int64_t> some = {79, 3, 40, 41, 0};
    auto cached = task->tokens_of(some), read = task->dataset().tokenize_cells(some);
    ASSERT_EQ(cached.size(), read.size());
    for (size_t i = 0; i < read.size(); ++i) {
      EXPECT_EQ(cached[i].cell, some[i]);
      EXPECT_EQ(cached[i].genes, read[i].genes);
      EXPECT_EQ(cached[i].values, read[i].values);
    }
    EXPECT_EQ(task->vocab_size(), task->dataset().vocab().size() + (kind == "scgpt" ? 11 : 0));
  }
}

TEST(CellTask, RanksSplitTheOneRankStep) {
  // Data parallelism: with 2 ranks, rank r's micro-batch is the 1-rank step's micro-batch r (same cells, masks).
  auto cfg = load(kSmoke);
  auto one = make_cell_task(cfg), two = make_cell_task(cfg);
  const torch::Device cpu(torch::kCPU);
  for (int step = 0; step < 6; ++step) {  // crosses an epoch boundary
    for (int r = 0; r < 2; ++r) {
      trainer::Batch a = one->train_batch(16, 0, 1, r, 8, cpu), b = two->train_batch(16, r, 2, 0, 8, cpu);
      EXPECT_TRUE(torch::equal(a.inputs.tokens, b.inputs.tokens));
      EXPECT_TRUE(torch::equal(a.inputs.values, b.inputs.values));
      EXPECT_TRUE(torch::equal(a.targets, b.targets));
    }
    one->advance(16);
    two->advance(16);
  }
  EXPECT_EQ(one->state(), two->state());
}

TEST(CellTask, TinyModelOverfitsFixedBatch) {
  // One fixed micro-batch of 8 cells, 50 AdamW steps: the masked-bin cross-entropy falls far below its start.
  auto cfg = load(kSmoke);
  torch::manual_seed(0);
  auto task = make_cell_task(cfg);
  cfg.model.vocab_size = task->vocab_size();
  auto model = models::build_model(cfg.model, cfg.attention);
  const torch::Device cpu(torch::kCPU);
  trainer::Batch batch = task->train_batch(16, 0, 1, 0, 8, cpu);
  torch::optim::AdamW opt(model->parameters(), torch::optim::AdamWOptions(3e-3).weight_decay(0.0));
  model->train();
  double first = 0, last = 0;
  const int threads = torch::get_num_threads();
  torch::set_num_threads(1);
  for (int step = 0; step < 50; ++step) {
    opt.zero_grad();
    auto [sum, count] = task->loss_sum(*model, batch);
    auto loss = sum / count.clamp_min(1);
    loss.backward();
    opt.step();
    if (step == 0) first = loss.item<double>();
    last = loss.item<double>();
    if (std::getenv("SIGTRAIN_TEST_VERBOSE") && step % 10 == 0) std::printf("step %d loss %.4f\n", step, last);
  }
  torch::set_num_threads(threads);
  // ln(10 bins) = 2.30 at chance; measured: 2.41 at the start, 0.35 after 30 steps, 0.075 after 50.
  EXPECT_GT(first, 1.8);
  EXPECT_LT(last, 0.15 * first) << "first " << first << " last " << last;
}

TEST(CellTask, ResumeIsBitExactAndEvalHasEmbeddingMetrics) {
  // 20 steps straight (checkpoints at 10, 20; ~5 epochs of 60 train cells at 16 per step) versus a copy "crashed"
  // after step 10 and resumed in place: N + resume + N == 2N, the embedding metrics included.
  auto dir = fixture::fresh_dir("cell_resume");
  trainer::TrainOptions straight;
  straight.config_files = {kSmoke};
  straight.run_dir = (dir / "straight").string();
  ASSERT_EQ(trainer::run_training(straight), 0);

  // The run folder keeps the gene vocabulary and the data summary.
  auto vocab = read_json(dir / "straight" / "gene_vocab.json");
  EXPECT_EQ(vocab["format"], "sigtrain-gene-vocab");
  EXPECT_EQ(vocab["genes"].size(), 230u);
  EXPECT_EQ(vocab["genes"][0], "MS4A1");
  auto info = read_json(dir / "straight" / "singlecell.json");
  EXPECT_EQ(info["n_cells"], 80);
  EXPECT_EQ(info["val_cells"], 20);
  EXPECT_EQ(info["train_cells"], 60);

  fixture::copy_as_crashed_after_step_10(dir / "straight", dir / "crashed");
  ASSERT_EQ(fixture::resume_in_place(dir / "crashed"), 0);
  EXPECT_EQ(read_json(dir / "straight" / "summary.json")["status"], "completed");
  fixture::expect_same_summary(dir / "straight", dir / "crashed");
  auto ra = read_jsonl(dir / "straight" / "metrics.jsonl");
  auto rb = read_jsonl(dir / "crashed" / "metrics.jsonl");
  // Every record of the straight run is in the resumed one with the same numbers (the resumed run may add a train
  // record for its first step after the resume).
  std::map<std::pair<std::string, int64_t>, nlohmann::json> resumed_records;
  for (const auto& r : rb) resumed_records[{r["type"].get<std::string>(), r["step"].get<int64_t>()}] = r;
  int evals = 0;
  for (size_t i = 0; i < ra.size(); ++i) {
    auto it = resumed_records.find({ra[i]["type"].get<std::string>(), ra[i]["step"].get<int64_t>()});
    ASSERT_NE(it, resumed_records.end()) << "resumed run lacks " << ra[i].dump();
    for (const char* k : {"loss", "grad_norm", "lr", "val_loss", "asw", "cohesion", "knn_accuracy",
                          "asw_centered", "padding_fraction", "train_token_fraction"})
      if (ra[i].contains(k)) EXPECT_EQ(ra[i][k], it->second[k]) << k << " at step " << ra[i]["step"];
    if (ra[i]["type"] != "eval") continue;
    ++evals;
    // The eval record: validation loss and the cell-embedding scores of the 20 held-out cells by cluster.
    for (const char* k : {"val_loss", "asw", "cohesion", "knn_accuracy", "padding_fraction",
                          "val_padding_fraction", "train_token_fraction", "embed_cells", "asw_centered",
                          "cohesion_centered", "knn_accuracy_centered", "input_asw", "input_cohesion",
                          "input_knn_accuracy"})
      EXPECT_TRUE(ra[i].contains(k)) << k << " missing in " << ra[i].dump();
    EXPECT_GE(ra[i]["asw"].get<double>(), -1.0);
    EXPECT_LE(ra[i]["asw"].get<double>(), 1.0);
    EXPECT_GT(ra[i]["cohesion"].get<double>(), 0.0);
    EXPECT_GE(ra[i]["knn_accuracy"].get<double>(), 0.0);
    EXPECT_LE(ra[i]["knn_accuracy"].get<double>(), 1.0);
    EXPECT_EQ(ra[i]["embed_cells"], 20);
    EXPECT_EQ(ra[i]["embed_labels"], 3);
    EXPECT_GE(ra[i]["padding_fraction"].get<double>(), 0.0);
    EXPECT_LT(ra[i]["padding_fraction"].get<double>(), 0.5);
  }
  EXPECT_EQ(evals, 3);  // steps 0, 10, 20
  // The model learns: validation loss below the untrained one.
  EXPECT_LT(ra.back()["val_loss"].get<double>(), ra.front()["val_loss"].get<double>());
}

TEST(CellTask, ConfigChecks) {
  const std::string& file = kSmoke;
  auto cfg = load(file);
  ASSERT_EQ(cfg.task, "singlecell");
  EXPECT_EQ(cfg.seq_len(), 128);  // the trainer's sequence length is max_len
  EXPECT_EQ(cfg.task_as<trainer::CellTaskConfig>().singlecell.pooling, "mean");
  auto expect_error = [&](const std::vector<std::string>& overrides, const std::string& needle) {
    try {
      auto c = load(file, overrides);
      make_cell_task(c);
      ADD_FAILURE() << "no error for " << needle;
    } catch (const config::ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_error({"data.seq_len=64"}, "reads no LM corpus");
  expect_error({"singlecell.batch_size=4"}, "singlecell.batch_size");
  expect_error({"singlecell.max_tokens_per_batch=4096"}, "singlecell.max_tokens_per_batch");
  expect_error({"singlecell.val_fraction=0"}, "no held-out cells");
  expect_error({"model.arch=decoder"}, "arch: encoder");
  expect_error({"model.value_input=false"}, "value_input");
  expect_error({"singlecell.pooling=max"}, "singlecell.pooling");
}

TEST(CellTask, DataInspectCli) {
  const std::string cmd = std::string(SIGTRAIN_BINARY) + " data inspect " + fixture_file("pbmc_small.h5ad") +
                          " --label cluster 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  ASSERT_EQ(pclose(p), 0) << out;
  EXPECT_NE(out.find("format:   h5ad\n"), std::string::npos) << out;
  EXPECT_NE(out.find("matrix:   /X  csr  float32  (indices int32)\n"), std::string::npos) << out;
  EXPECT_NE(out.find("shape:    80 cells x 230 genes\n"), std::string::npos) << out;
  EXPECT_NE(out.find("nnz:      4456 (24.22% of entries)\n"), std::string::npos) << out;
  EXPECT_NE(out.find("label 'cluster': 3 categories\n"), std::string::npos) << out;

  const std::string raw = std::string(SIGTRAIN_BINARY) + " data inspect " + fixture_file("pbmc68k_reduced.h5ad") +
                          " --layer raw --label bulk_labels 2>&1";
  p = popen(raw.c_str(), "r");
  ASSERT_NE(p, nullptr);
  out.clear();
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  ASSERT_EQ(pclose(p), 0) << out;
  EXPECT_NE(out.find("shape:    700 cells x 765 genes\n"), std::string::npos) << out;
  EXPECT_NE(out.find("nnz:      174400 (32.57% of entries)\n"), std::string::npos) << out;
  EXPECT_NE(out.find("label 'bulk_labels': 10 categories\n"), std::string::npos) << out;
  EXPECT_NE(out.find("Dendritic"), std::string::npos) << out;

  // A missing file is an error with a non-zero exit.
  const std::string bad = std::string(SIGTRAIN_BINARY) + " data inspect /nonexistent.h5ad >/dev/null 2>&1";
  EXPECT_NE(std::system(bad.c_str()), 0);
}

}  // namespace
}  // namespace sigtrain
