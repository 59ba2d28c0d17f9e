// Stability instruments (against direct computations), policies, metrics.h5 after a kill, the masked-token task,
// the stress smoke config and `sigtrain report`.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <torch/torch.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "common/exit_status.h"
#include "models/attention.h"
#include "models/model.h"
#include "tests/trainer/training_fixture.h"
#include "trainer/instruments/h5_series_writer.h"
#include "trainer/tasks/mlm_task.h"
#include "trainer/instruments/monitor.h"
#include "trainer/optim/optimizer.h"
#include "trainer/instruments/report.h"
#include "trainer/loop/trainer.h"

namespace fs = std::filesystem;
using namespace sigtrain;

namespace {

const std::string kFixture = std::string(SIGTRAIN_SOURCE_DIR) + "/tests/fixtures/text/hamlet-act-1.txt";

models::ModelConfig tiny_encoder() {
  models::ModelConfig m;
  m.arch = models::Arch::kEncoder;
  m.vocab_size = 40;
  m.n_layer = 2;
  m.d_model = 32;
  m.n_head = 4;
  m.max_seq_len = 16;
  m.positions = models::PositionKind::kNone;
  m.norm = models::NormKind::kLayerNorm;
  m.mlp = models::MlpKind::kGelu;
  m.bias = true;
  m.qk_norm = false;
  return m;
}

trainer::MonitorConfig every_step() {
  trainer::MonitorConfig c;
  c.grad_norms_every = c.param_norms_every = c.update_ratio_every = c.adam_every = c.attention_every = 1;
  c.attention_sample_batch = 2;
  return c;
}

// Row `row` of a 1-D or 2-D series in metrics.h5.
std::vector<double> h5_row(const fs::path& file, const std::string& name, int64_t row) {
  trainer::H5Series s;
  EXPECT_TRUE(trainer::h5_read_series(file.string(), name, &s)) << name;
  if (row >= s.rows()) {
    ADD_FAILURE() << name << " has " << s.rows() << " rows, wanted row " << row;
    return {};
  }
  return std::vector<double>(s.values.begin() + row * s.width(), s.values.begin() + (row + 1) * s.width());
}

double sq_norm(const torch::Tensor& t) { return t.defined() ? t.to(torch::kDouble).pow(2).sum().item<double>() : 0.0; }

trainer::TrainOptions tiny_run(const fs::path& dir, std::vector<std::string> overrides) {
  trainer::TrainOptions o;
  o.config_files = {fixture::write_tiny_config(dir)};
  o.overrides = std::move(overrides);
  o.run_dir = (dir / "run").string();
  return o;
}

// The CPU smoke variant of the stress configs, on the committed fixture.
trainer::TrainOptions smoke_run(const fs::path& dir, const std::string& name, std::vector<std::string> overrides) {
  auto extra = dir / "fixture_data.yaml";
  std::ofstream(extra) << "data:\n  corpus: [" << kFixture << "]\n  cache_dir: " << (dir / "cache").string() << "\n";
  trainer::TrainOptions o;
  o.config_files = {std::string(SIGTRAIN_SOURCE_DIR) + "/configs/stress/smoke_cpu.yaml", extra.string()};
  o.overrides = std::move(overrides);
  o.run_dir = (dir / name).string();
  return o;
}

bool is_png(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  char sig[8] = {};
  in.read(sig, 8);
  return in.gcount() == 8 && std::string(sig, 8) == std::string("\x89PNG\r\n\x1a\n", 8);
}

// For the masked-token task tests: the Hamlet fixture as byte tokens in windows of 64, a tenth held out, cached
// under `dir`.
data::DataConfig mlm_byte_data(const fs::path& dir) {
  data::DataConfig dc;
  dc.corpus = {kFixture};
  dc.cache_dir = (dir / "cache").string();
  dc.seq_len = 64;
  dc.val_fraction = 0.1;
  dc.tokenizer.kind = "byte";
  return dc;
}

}  // namespace

// --- instruments -------------------------------------------------------------------------------------------------
TEST(Monitor, InstrumentsMatchDirectComputation) {
  torch::manual_seed(3);
  auto model = models::build_model(tiny_encoder(), models::AttentionConfig{});  // sigmoid, b = -log n, math
  auto infos = model->param_info();
  trainer::OptimConfig oc;
  oc.lr_peak = 1e-2;
  auto opt = trainer::make_adamw(infos, oc, nullptr);
  auto dir = fixture::fresh_dir("monitor_direct");
  const fs::path h5 = dir / "metrics.h5";
  trainer::Monitor mon(every_step(), *model, h5.string(), -1);
  const int64_t L = mon.n_layer(), G = static_cast<int64_t>(mon.group_names().size());
  ASSERT_EQ(L, 2);

  auto tokens = torch::randint(0, 40, {2, 16}, torch::kLong);
  auto targets = torch::randint(0, 40, {2, 16}, torch::kLong);
  std::vector<double> grad_layer(L, 0), grad_group(G, 0), par_layer(L, 0);
  double grad_total = 0, v_total = 0, m_total = 0, par_total = 0, loss_value = 0;
  std::vector<std::array<double, 5>> attn(L);
  for (int64_t step = 1; step <= 2; ++step) {
    mon.begin_step(step);
    opt->zero_grad(true);
    mon.before_forward(0);
    auto logits = model->forward(tokens);
    auto loss = torch::nn::functional::cross_entropy(logits.view({-1, 40}), targets.view({-1}));
    loss.backward();
    mon.after_backward();
    std::fill(grad_layer.begin(), grad_layer.end(), 0.0);
    std::fill(grad_group.begin(), grad_group.end(), 0.0);
    grad_total = 0;
    for (const auto& p : infos) {
      const double g2 = sq_norm(p.param.grad());
      if (p.layer >= 0) grad_layer[p.layer] += g2;
      auto it = std::find(mon.group_names().begin(), mon.group_names().end(), models::to_string(p.group));
      grad_group[it - mon.group_names().begin()] += g2;
      grad_total += g2;
    }
    if (step == 2) {  // attention statistics by hand, layer by layer, on the weights this forward used
      torch::NoGradGuard ng;
      const auto named = model->named_parameters();
      auto x = named["tok_embed.weight"].index_select(0, tokens.view({-1})).view({2, 16, 32});
      models::AttentionMask mask;  // encoder: no causal mask, no padding
      for (int64_t l = 0; l < L; ++l) {
        auto& blk = model->block(l);
        auto qkv = blk->attn->qkv->forward(blk->attn_norm->forward(x)).view({2, 16, 12, 8});
        auto q = qkv.narrow(2, 0, 4), k = qkv.narrow(2, 4, 4), v = qkv.narrow(2, 8, 4);
        auto S = torch::matmul(q.permute({0, 2, 1, 3}), k.permute({0, 2, 3, 1})) / std::sqrt(8.0) - std::log(16.0);
        auto P = torch::sigmoid(S);  // [2, 4, 16, 16]
        auto pv = torch::matmul(P, v.permute({0, 2, 1, 3}));
        attn[l] = {S.abs().max().item<double>(), P.sum(-1).mean().item<double>(), P.sum(-1).max().item<double>(),
                   pv.norm(2, -1).mean().item<double>(), 0.0};
        x = blk->forward(x, mask, nullptr);
        attn[l][4] = x.pow(2).mean().sqrt().item<double>();
      }
    }
    auto gnorm = torch::tensor(std::sqrt(grad_total), torch::kFloat);
    ASSERT_TRUE(mon.allow_update(loss.detach(), gnorm));
    mon.before_update();
    opt->step();
    mon.after_update(*opt);
    mon.end_step(loss.detach(), gnorm, 1e-2);
    loss_value = loss.item<double>();
  }
  mon.sync();

  // Gradient norms per layer, per group and in total (row 1 = step 2).
  auto grads = h5_row(h5, "grads/layers", 1);
  ASSERT_EQ(grads.size(), static_cast<size_t>(L));
  for (int64_t l = 0; l < L; ++l) EXPECT_NEAR(grads[l], std::sqrt(grad_layer[l]), 1e-5 * std::sqrt(grad_layer[l]));
  for (int64_t g = 0; g < G; ++g)
    EXPECT_NEAR(h5_row(h5, "grads/" + mon.group_names()[g], 1)[0], std::sqrt(grad_group[g]),
                1e-5 * std::sqrt(grad_group[g]) + 1e-12)
        << mon.group_names()[g];
  EXPECT_NEAR(h5_row(h5, "grads/total", 1)[0], std::sqrt(grad_total), 1e-5 * std::sqrt(grad_total));
  EXPECT_NEAR(h5_row(h5, "steps/grad_norm", 1)[0], std::sqrt(grad_total), 1e-5 * std::sqrt(grad_total));
  EXPECT_NEAR(h5_row(h5, "steps/loss", 1)[0], loss_value, 1e-5);
  EXPECT_EQ(h5_row(h5, "steps/step", 1)[0], 2);

  // Parameter norms and Adam moments after step 2, straight from the parameters and the optimizer state.
  auto& state = opt->state();
  for (const auto& p : infos) {
    const double p2 = sq_norm(p.param);
    if (p.layer >= 0) par_layer[p.layer] += p2;
    par_total += p2;
    auto& s = static_cast<torch::optim::AdamWParamState&>(*state.at(p.param.unsafeGetTensorImpl()));
    v_total += sq_norm(s.exp_avg_sq());
    m_total += sq_norm(s.exp_avg());
  }
  EXPECT_NEAR(h5_row(h5, "params/total", 1)[0], std::sqrt(par_total), 1e-5 * std::sqrt(par_total));
  auto params_layers = h5_row(h5, "params/layers", 1);
  for (int64_t l = 0; l < L; ++l) EXPECT_NEAR(params_layers[l], std::sqrt(par_layer[l]), 1e-5 * std::sqrt(par_layer[l]));
  EXPECT_NEAR(h5_row(h5, "adam/v_total", 1)[0], std::sqrt(v_total), 1e-5 * std::sqrt(v_total));
  EXPECT_NEAR(h5_row(h5, "adam/m_total", 1)[0], std::sqrt(m_total), 1e-5 * std::sqrt(m_total));

  // Update-to-parameter ratio: AdamW's first step moves every element by ~lr (m/√v = ±1), so ‖Δθ‖ ≈ lr·√numel
  // per layer at step 1 (weight decay adds lr·wd·θ, tiny). Row 0 = step 1.
  auto ratio1 = h5_row(h5, "update/layers", 0);
  auto params0 = h5_row(h5, "params/layers", 0);
  for (int64_t l = 0; l < L; ++l) {
    int64_t numel = 0;
    for (const auto& p : infos)
      if (p.layer == l) numel += p.param.numel();
    const double expected = 1e-2 * std::sqrt(static_cast<double>(numel)) / params0[l];
    EXPECT_NEAR(ratio1[l], expected, 0.05 * expected) << "layer " << l;
  }

  // Attention statistics (sampled batch = both sequences) against the hand computation.
  for (int k = 0; k < 5; ++k) {
    const char* names[] = {"max_abs_logit", "row_mass_mean", "row_mass_max", "pv_norm", "block_rms"};
    auto row = h5_row(h5, std::string("attention/") + names[k], 1);
    for (int64_t l = 0; l < L; ++l) EXPECT_NEAR(row[l], attn[l][k], 1e-4 * std::abs(attn[l][k]) + 1e-6) << names[k] << " layer " << l;
  }
  // b = -log n: row mass ≈ 1 at initialisation.
  EXPECT_NEAR(attn[0][1], 1.0, 0.3);
  EXPECT_EQ(trainer::h5_read_attr(h5.string(), "attention", "via_reference"), "true");
  EXPECT_EQ(trainer::h5_read_attr(h5.string(), "", "n_layer"), "2");
}

TEST(Monitor, UpdateRatioIsDeltaOverParams) {
  // ‖θ_after − θ_before‖ / ‖θ_after‖ per layer, compared with snapshots taken around the optimizer step.
  torch::manual_seed(5);
  auto model = models::build_model(tiny_encoder(), models::AttentionConfig{});
  auto infos = model->param_info();
  trainer::OptimConfig oc;
  oc.lr_peak = 3e-3;
  auto opt = trainer::make_adamw(infos, oc, nullptr);
  auto dir = fixture::fresh_dir("monitor_update");
  trainer::Monitor mon(every_step(), *model, (dir / "m.h5").string(), -1);
  auto tokens = torch::randint(0, 40, {2, 16}, torch::kLong);
  std::vector<double> d2(2, 0), p2(2, 0);
  for (int64_t step = 1; step <= 3; ++step) {
    mon.begin_step(step);
    opt->zero_grad(true);
    mon.before_forward(0);
    model->forward(tokens).pow(2).mean().backward();
    mon.after_backward();
    std::vector<torch::Tensor> before;
    for (const auto& p : infos) before.push_back(p.param.detach().clone());
    mon.before_update();
    opt->step();
    mon.after_update(*opt);
    mon.end_step(torch::zeros({}), torch::ones({}), 3e-3);
    if (step == 3) {
      for (size_t i = 0; i < infos.size(); ++i)
        if (infos[i].layer >= 0) {
          d2[infos[i].layer] += sq_norm(infos[i].param.detach() - before[i]);
          p2[infos[i].layer] += sq_norm(infos[i].param);
        }
    }
  }
  mon.sync();
  auto ratio = h5_row(dir / "m.h5", "update/layers", 2);
  for (int l = 0; l < 2; ++l) EXPECT_NEAR(ratio[l], std::sqrt(d2[l] / p2[l]), 1e-4 * std::sqrt(d2[l] / p2[l]));
}

TEST(Monitor, ZScoresAndDivergenceRule) {
  auto model = models::build_model(tiny_encoder(), models::AttentionConfig{});
  trainer::MonitorConfig cfg;
  cfg.enabled = false;  // only the per-step scalars
  cfg.window = 32;
  cfg.divergence.min_history = 16;
  cfg.divergence.patience = 5;
  cfg.divergence.stop = true;
  trainer::Monitor mon(cfg, *model, "", -1);
  // 40 quiet steps (grad norm 1 ± 0.1), then a sustained 1000x blow-up from step 41.
  for (int64_t s = 1; s <= 60; ++s) {
    mon.begin_step(s);
    const double g = s <= 40 ? 1.0 + 0.1 * std::sin(0.7 * static_cast<double>(s)) : 1000.0 * s;
    mon.end_step(torch::tensor(2.0), torch::tensor(g), 1e-3);
    if (s % 10 == 0) mon.sync();
    if (s == 40) {
      EXPECT_FALSE(mon.diverged());
      EXPECT_LT(std::abs(mon.latest().grad_norm_z), 3.0);
    }
  }
  EXPECT_TRUE(mon.diverged());
  EXPECT_TRUE(mon.stop_requested());
  EXPECT_EQ(mon.diverged_step(), 41);
  EXPECT_NE(mon.reason().find("5 consecutive steps from step 41"), std::string::npos) << mon.reason();
  EXPECT_EQ(mon.nonfinite_steps(), 0);
}

// --- policies ----------------------------------------------------------------------------------------------------
TEST(MonitorPolicy, NanGradientStopsAndKeepsLastGoodCheckpoint) {
  auto dir = fixture::fresh_dir("policy_stop");
  auto o = tiny_run(dir, {"test_hooks.nan_grad_step=7", "checkpoint.every=4", "train.steps=20"});
  EXPECT_EQ(trainer::run_training(o), exit_status::kRunFailed);  // diverged
  auto s = fixture::read_json(dir / "run" / "summary.json");
  EXPECT_EQ(s["status"], "diverged");
  EXPECT_EQ(s["diverged_step"], 7);
  EXPECT_EQ(s["last_step"], 10);  // detected at the next logging step (no per-step host sync under `stop`)
  EXPECT_NE(s["reason"].get<std::string>().find("non-finite"), std::string::npos) << s["reason"];
  EXPECT_GE(s["monitor"]["nonfinite_steps"].get<int>(), 1);
  EXPECT_TRUE(fs::exists(dir / "run" / "checkpoints" / "step_00000004" / "DONE"));
  EXPECT_FALSE(fs::exists(dir / "run" / "checkpoints" / "step_00000008")) << "saved a checkpoint after divergence";
}

TEST(MonitorPolicy, SkipStepSkipsTheUpdateAndCounts) {
  auto dir = fixture::fresh_dir("policy_skip");
  auto o = tiny_run(dir, {"test_hooks.nan_grad_step=7", "monitor.on_nonfinite=skip_step"});
  EXPECT_EQ(trainer::run_training(o), 0);
  auto s = fixture::read_json(dir / "run" / "summary.json");
  EXPECT_EQ(s["status"], "completed");
  EXPECT_EQ(s["monitor"]["skipped_steps"], 1);
  EXPECT_EQ(s["monitor"]["nonfinite_steps"], 1);
  EXPECT_TRUE(std::isfinite(s["final_train_loss"].get<double>()));
  auto skipped = h5_row(dir / "run" / "metrics.h5", "steps/skipped", 6);
  EXPECT_EQ(skipped[0], 1.0);
  EXPECT_EQ(h5_row(dir / "run" / "metrics.h5", "steps/skipped", 7)[0], 0.0);
  EXPECT_TRUE(fs::exists(dir / "run" / "checkpoints" / "step_00000020" / "DONE"));
}

TEST(MonitorPolicy, ContinueRunsToTheEndAndReportsDivergence) {
  auto dir = fixture::fresh_dir("policy_continue");
  auto o = tiny_run(dir, {"test_hooks.nan_grad_step=7", "monitor.on_nonfinite=continue",
                          "monitor.divergence.stop=false"});
  EXPECT_EQ(trainer::run_training(o), exit_status::kRunFailed);  // diverged
  auto s = fixture::read_json(dir / "run" / "summary.json");
  EXPECT_EQ(s["status"], "diverged");
  EXPECT_EQ(s["last_step"], 20);
  EXPECT_EQ(s["diverged_step"], 8);  // step 7's NaN update makes step 8's loss NaN
  EXPECT_EQ(s["monitor"]["nonfinite_steps"], 14);
  EXPECT_FALSE(fs::exists(dir / "run" / "checkpoints" / "step_00000010"));
  EXPECT_FALSE(fs::exists(dir / "run" / "checkpoints" / "step_00000020"));
}

TEST(MonitorPolicy, LearningRateSpikeIsDetectedAsDivergence) {
  auto dir = fixture::fresh_dir("policy_lr_spike");
  auto o = tiny_run(dir, {"train.steps=60", "optim.clip=null", "schedule.kind=constant",
                          "test_hooks.lr_spike_step=30", "test_hooks.lr_spike_factor=300",
                          "monitor.window=64", "monitor.divergence.min_history=16",
                          "monitor.divergence.median_ratio=10", "monitor.divergence.patience=5",
                          "checkpoint.every=0", "eval.every=0"});
  // Measured: lr 0.01 -> 3 at step 30 sends the grad norm from ~0.5 to 30-160 (the loss from 3 to hundreds).
  EXPECT_EQ(trainer::run_training(o), exit_status::kRunFailed);  // diverged
  auto s = fixture::read_json(dir / "run" / "summary.json");
  EXPECT_EQ(s["status"], "diverged") << s.dump();
  EXPECT_GE(s.value("diverged_step", -1), 30);
  EXPECT_LE(s.value("diverged_step", -1), 40);
  EXPECT_LT(s["last_step"].get<int>(), 60) << "divergence.stop should have stopped the run";
  EXPECT_NE(s.value("reason", std::string()).find("running median"), std::string::npos) << s.dump();
}

// --- metrics.h5 survives a SIGKILL -------------------------------------------------------------------------------
// The child: a long run that the parent kills. Skipped unless the parent set SIGTRAIN_TEST_CHILD_DIR.
TEST(MonitorChild, TrainUntilKilled) {
  const char* dir = std::getenv("SIGTRAIN_TEST_CHILD_DIR");
  if (!dir) GTEST_SKIP() << "helper for MonitorH5.ReadableAfterKill (runs only as its child process)";
  auto o = tiny_run(dir, {"train.steps=1000000", "logging.every=2", "monitor.grad_norms_every=2",
                          "monitor.attention_every=4", "checkpoint.every=0", "checkpoint.save_final=false",
                          "eval.every=0"});
  trainer::run_training(o);
}

TEST(MonitorH5, ReadableAfterKill) {
  auto dir = fixture::fresh_dir("h5_kill");
  const fs::path run = dir / "run";
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {  // exec a fresh copy of this binary (no fork-with-threads hazards) running only the child test
    setenv("SIGTRAIN_TEST_CHILD_DIR", dir.c_str(), 1);
    execl("/proc/self/exe", "test_trainer", "--gtest_filter=MonitorChild.TrainUntilKilled", static_cast<char*>(nullptr));
    _exit(127);
  }
  // Wait until the child has logged at least 6 training records, then kill it right after a record appears.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(180);
  size_t records = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    if (fs::exists(run / "metrics.jsonl")) {
      std::ifstream in(run / "metrics.jsonl");
      records = 0;
      for (std::string line; std::getline(in, line);)
        if (line.find("\"train\"") != std::string::npos) ++records;
      if (records >= 6) break;
    }
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) FAIL() << "child exited early";
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status));
  ASSERT_GE(records, 6u) << "child did not log in time";
  EXPECT_FALSE(fs::exists(run / "summary.json")) << "the killed run must not have finished";

  trainer::H5Series steps, loss, gsteps, layers;
  ASSERT_TRUE(trainer::h5_read_series((run / "metrics.h5").string(), "steps/step", &steps));
  ASSERT_TRUE(trainer::h5_read_series((run / "metrics.h5").string(), "steps/loss", &loss));
  EXPECT_GE(steps.rows(), 10);  // records at steps 1, 2, 4, ..., 10 => at least 10 per-step rows
  EXPECT_EQ(loss.rows(), steps.rows());
  for (int64_t i = 0; i < steps.rows(); ++i) EXPECT_EQ(steps.values[i], static_cast<double>(i + 1));
  for (double l : loss.values) EXPECT_TRUE(std::isfinite(l) && l > 0);
  ASSERT_TRUE(trainer::h5_read_series((run / "metrics.h5").string(), "grads/step", &gsteps));
  ASSERT_TRUE(trainer::h5_read_series((run / "metrics.h5").string(), "grads/layers", &layers));
  EXPECT_GE(gsteps.rows(), 5);
  EXPECT_EQ(layers.rows(), gsteps.rows());
  EXPECT_EQ(layers.width(), 2);
}

// --- masked-token task -------------------------------------------------------------------------------------------
TEST(MlmTask, DeterministicMaskingAndKeyPadding) {
  auto dir = fixture::fresh_dir("mlm_task");
  const data::DataConfig dc = mlm_byte_data(dir);
  trainer::MlmConfig mc;
  mc.length_jitter = 0.25;
  trainer::MlmTask a(dc, mc, 7, 4096), b(dc, mc, 7, 4096), other_seed(dc, mc, 8, 4096);
  EXPECT_EQ(a.vocab_size(), 258);  // 257 byte ids + [MASK]
  EXPECT_EQ(a.mask_id(), 257);
  auto x = a.train_batch(32, 0, 1, 0, 32, torch::kCPU);
  auto y = b.train_batch(32, 0, 1, 0, 32, torch::kCPU);
  EXPECT_TRUE(torch::equal(x.inputs.tokens, y.inputs.tokens));
  EXPECT_TRUE(torch::equal(x.targets, y.targets));
  EXPECT_TRUE(torch::equal(x.inputs.lengths, y.inputs.lengths));
  // The micro-batch split does not change the samples (resume / accumulation safe).
  auto half = a.train_batch(32, 0, 1, 1, 16, torch::kCPU);
  EXPECT_TRUE(torch::equal(half.inputs.tokens, x.inputs.tokens.narrow(0, 16, 16)));
  EXPECT_TRUE(torch::equal(half.targets, x.targets.narrow(0, 16, 16)));

  const auto& tok = x.inputs.tokens;
  const auto& lab = x.targets;
  const auto len = x.inputs.lengths.to(torch::kLong);
  EXPECT_GE(len.min().item<int64_t>(), 48);
  EXPECT_LE(len.max().item<int64_t>(), 64);
  EXPECT_LT(len.min().item<int64_t>(), 64) << "length jitter never padded";
  auto pos = torch::arange(64).view({1, 64});
  auto pad = pos >= len.view({32, 1});
  EXPECT_TRUE(torch::all(lab.masked_select(pad) == -100).item<bool>());
  EXPECT_TRUE(torch::all(tok.masked_select(pad) == 256).item<bool>());
  auto selected = lab != -100;
  const double valid = (~pad).sum().item<double>();
  const double frac = selected.sum().item<double>() / valid;
  EXPECT_NEAR(frac, 0.15, 0.03);
  const double masked = (selected & (tok == 257)).sum().item<double>() / selected.sum().item<double>();
  EXPECT_NEAR(masked, 0.8, 0.08);
  // Unchanged-or-random: labels are always the original byte; tokens at unselected positions are not [MASK].
  EXPECT_FALSE(torch::any((~selected) & (tok == 257)).item<bool>());
  EXPECT_TRUE(torch::all(lab.masked_select(selected) < 256).item<bool>());

  // The next step draws new samples; the validation set is the same for every train seed.
  a.advance(32);
  auto z = a.train_batch(32, 0, 1, 0, 32, torch::kCPU);
  EXPECT_FALSE(torch::equal(z.inputs.tokens, x.inputs.tokens));
  auto va = a.val_batch(0, 4, torch::kCPU), vb = other_seed.val_batch(0, 4, torch::kCPU);
  EXPECT_TRUE(torch::equal(va.inputs.tokens, vb.inputs.tokens));
  EXPECT_TRUE(torch::equal(va.targets, vb.targets));
}

TEST(MlmTask, RestoreRefusesAnotherObjectiveOrTokenizer) {
  auto dir = fixture::fresh_dir("mlm_restore");
  const data::DataConfig dc = mlm_byte_data(dir);
  trainer::MlmTask task(dc, trainer::MlmConfig{}, 7, 4096);
  const auto x = task.train_batch(8, 0, 1, 0, 8, torch::kCPU);
  auto state = task.state();
  EXPECT_EQ(state.at("objective"), "mlm");
  task.advance(8);
  task.restore(state);  // back to the first step: the same samples again
  EXPECT_TRUE(torch::equal(task.train_batch(8, 0, 1, 0, 8, torch::kCPU).inputs.tokens, x.inputs.tokens));

  auto expect_refused = [&](const nlohmann::json& bad, const std::string& what) {
    try {
      task.restore(bad);
      FAIL() << "expected a refusal naming " << what;
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  };
  auto lm_state = state;
  lm_state.erase("objective");  // what a next-token (LmTask) checkpoint holds
  expect_refused(lm_state, "another training objective");
  auto other_tokenizer = state;
  other_tokenizer["tokenizer"] = "sentencepiece-bpe-8192/0000";
  expect_refused(other_tokenizer, "checkpoint was written with tokenizer 'sentencepiece-bpe-8192/0000'");
}

TEST(StressSmoke, EncoderRunsWithInstrumentsAndResumesBitExact) {
  auto dir = fixture::fresh_dir("stress_smoke");
  auto straight = smoke_run(dir, "straight", {"checkpoint.every=5"});
  ASSERT_EQ(trainer::run_training(straight), 0);
  auto s = fixture::read_json(dir / "straight" / "summary.json");
  EXPECT_EQ(s["status"], "completed");
  const fs::path h5 = dir / "straight" / "metrics.h5";
  trainer::H5Series st, mx;
  ASSERT_TRUE(trainer::h5_read_series(h5.string(), "steps/step", &st));
  EXPECT_EQ(st.rows(), 10);
  ASSERT_TRUE(trainer::h5_read_series(h5.string(), "attention/max_abs_logit", &mx));
  EXPECT_EQ(mx.rows(), 5);
  EXPECT_EQ(mx.width(), 2);
  auto records = fixture::read_jsonl(dir / "straight" / "metrics.jsonl");
  ASSERT_FALSE(records.empty());
  EXPECT_NEAR(records.front()["loss"].get<double>(), std::log(258.0), 0.6);  // MLM loss at init ≈ ln(vocab)
  bool saw_groups = false;
  for (const auto& r : records)
    if (r.contains("grad_norm/attn_qkv") && r.contains("attn/row_mass_mean") && r.contains("update_ratio/total"))
      saw_groups = true;
  EXPECT_TRUE(saw_groups);

  // Resume from step 5: the same final parameters (masking and length jitter are functions of the sample index).
  ASSERT_EQ(std::system(("cp -a '" + (dir / "straight").string() + "' '" + (dir / "crashed").string() + "'").c_str()), 0);
  sigtrain::remove_tree((dir / "crashed" / "checkpoints" / "step_00000010").string());
  fs::remove(dir / "crashed" / "summary.json");
  trainer::TrainOptions resumed;
  resumed.run_dir = (dir / "crashed").string();
  resumed.resume = "";
  ASSERT_EQ(trainer::run_training(resumed), 0);
  auto b = fixture::read_json(dir / "crashed" / "summary.json");
  EXPECT_EQ(s["param_checksum"], b["param_checksum"]);
  EXPECT_EQ(s["final_train_loss"], b["final_train_loss"]);
  trainer::H5Series st2;
  ASSERT_TRUE(trainer::h5_read_series((dir / "crashed" / "metrics.h5").string(), "steps/step", &st2));
  EXPECT_EQ(st2.values, st.values) << "metrics.h5 after resume must read as one run";
}

// --- report ------------------------------------------------------------------------------------------------------
TEST(Report, TableAndPlotsForTwoTinyRuns) {
  auto dir = fixture::fresh_dir("report");
  ASSERT_EQ(trainer::run_training(smoke_run(dir, "softmax", {"attention.kind=softmax"})), 0);
  ASSERT_EQ(trainer::run_training(smoke_run(dir, "sigmoid", {"attention.kind=sigmoid"})), 0);
  trainer::ReportOptions ro;
  ro.run_dirs = {(dir / "softmax").string(), (dir / "sigmoid").string()};
  ro.out_dir = (dir / "report").string();
  auto res = trainer::make_report(ro);
  for (const char* label : {"final train loss", "best train loss", "max grad norm", "max / early median",
                            "diverged at step", "tokens/s", "softmax (math)", "sigmoid (math)", "completed"})
    EXPECT_NE(res.table.find(label), std::string::npos) << label << "\n" << res.table;
  EXPECT_TRUE(fs::exists(dir / "report" / "report.md"));
  EXPECT_TRUE(fs::exists(dir / "report" / "report.json"));
  if (res.plot_error.rfind("plots skipped", 0) == 0)
    GTEST_SKIP() << res.plot_error << " (scripts/setup.sh installs python3-matplotlib; CI runs this)";
  ASSERT_TRUE(res.plot_error.empty()) << res.plot_error;
  for (const char* png : {"loss.png", "grad_norm.png", "grad_norm_layers.png", "attention.png"}) {
    EXPECT_TRUE(fs::exists(dir / "report" / png)) << png;
    EXPECT_TRUE(is_png(dir / "report" / png)) << png;
  }
}
