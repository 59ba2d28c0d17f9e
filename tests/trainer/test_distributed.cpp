// Data parallelism on CPU (Gloo over loopback), through the real `sigtrain launch` binary: 2 ranks match 1 rank,
// resume under 2 ranks is bit-exact, a world-size change on resume continues the run, a dead or hung rank fails
// the job fast and names the rank, and bad launcher arguments give clear errors.
#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <sys/wait.h>

#include "common/config.h"
#include "tests/trainer/training_fixture.h"
#include "trainer/distributed/distributed.h"
#include "trainer/distributed/launcher.h"
#include "trainer/loop/trainer.h"

namespace fs = std::filesystem;
using namespace sigtrain;

namespace {

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
  double seconds = 0;
};

CommandResult run_command(const std::string& command) {
  CommandResult r;
  const auto t0 = std::chrono::steady_clock::now();
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) r.output.append(buf.data(), n);
  const int status = ::pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

// `sigtrain launch --nproc-per-node N train <args>`; `env` is prepended (e.g. "SIGTRAIN_TEST_FAIL_RANK=1").
CommandResult launch(int nproc, const std::string& train_args, const std::string& env = "") {
  return run_command(env + " " + std::string(SIGTRAIN_EXE) + " launch --nproc-per-node " + std::to_string(nproc) +
                     " --grace 2 train " + train_args);
}

// 16 sequences of 32 tokens per step, micro-batch 8: 1 rank accumulates 2 micro-steps, 2 ranks 1 each.
std::string tiny_config(const fs::path& dir, const std::string& extra = "") {
  return fixture::write_tiny_config(dir, "dist:\n  timeout_s: 60\n  bucket_mb: 0.05\n" + extra);
}

void expect_close(double a, double b, double rel, const std::string& what) {
  EXPECT_LE(std::abs(a - b), rel * std::max(std::abs(a), std::abs(b)) + 1e-12) << what << ": " << a << " vs " << b;
}

// Every train/eval record of run `a` has one in run `b` (same type and step) whose loss, grad norm and validation
// loss agree to `rel`. (A resumed run also logs the first step after the resume, so `b` may have more.)
void expect_same_curves(const fs::path& a, const fs::path& b, double rel) {
  auto ra = fixture::read_jsonl(a / "metrics.jsonl");
  std::map<std::string, nlohmann::json> rb;
  for (const auto& r : fixture::read_jsonl(b / "metrics.jsonl")) rb[r["type"].dump() + r["step"].dump()] = r;
  ASSERT_GE(ra.size(), 6u);
  for (const auto& r : ra) {
    const std::string key = r["type"].dump() + r["step"].dump();
    ASSERT_TRUE(rb.count(key)) << "no " << key << " record in " << b;
    for (const char* k : {"loss", "grad_norm", "val_loss"})
      if (r.contains(k))
        expect_close(r[k].get<double>(), rb[key][k].get<double>(), rel,
                     std::string(k) + " at step " + r["step"].dump());
  }
}

}  // namespace

TEST(DistEnv, FirstSlurmHost) {
  EXPECT_EQ(trainer::first_slurm_host("gpu[07-09,12],login1"), "gpu07");
  EXPECT_EQ(trainer::first_slurm_host("node3,node4"), "node3");
  EXPECT_EQ(trainer::first_slurm_host("a-b[3,5-7]-ib"), "a-b3-ib");
  EXPECT_EQ(trainer::first_slurm_host("solo"), "solo");
  EXPECT_EQ(trainer::first_slurm_host(""), "");
}

TEST(DistEnv, ReadsTorchrunVariablesAndRejectsBadOnes) {
  ::setenv("RANK", "1", 1);
  ::setenv("WORLD_SIZE", "4", 1);
  ::setenv("LOCAL_RANK", "1", 1);
  ::setenv("MASTER_ADDR", "node01", 1);
  ::setenv("MASTER_PORT", "29555", 1);
  auto e = trainer::read_dist_env();
  EXPECT_EQ(e.rank, 1);
  EXPECT_EQ(e.world_size, 4);
  EXPECT_EQ(e.local_rank, 1);
  EXPECT_EQ(e.master_addr, "node01");
  EXPECT_EQ(e.master_port, 29555);
  EXPECT_EQ(e.source, "torchrun");
  ::setenv("RANK", "4", 1);
  try {
    trainer::read_dist_env();
    ADD_FAILURE() << "RANK=4 with WORLD_SIZE=4 accepted";
  } catch (const config::ConfigError& err) {
    EXPECT_NE(std::string(err.what()).find("RANK=4"), std::string::npos) << err.what();
  }
  for (const char* v : {"RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"}) ::unsetenv(v);
  EXPECT_EQ(trainer::read_dist_env().world_size, 1);
}

TEST(Launch, BadArgumentsGiveClearErrors) {
  struct Case {
    std::string args, expect;
  };
  for (const Case& c : std::vector<Case>{
           {"launch --nproc-per-node 0 train", "--nproc-per-node"},
           {"launch train --config x.yaml", "--nproc-per-node is required"},
           {"launch --nproc-per-node 2 --nnodes 2 --node-rank 2 --master-addr n0 train", "--node-rank"},
           {"launch --nproc-per-node 2 --nnodes 2 train", "--master-addr"},
           {"launch --nproc-per-node 2 --master-port 70000 train", "--master-port"},
           {"launch --nproc-per-node 2", "nothing to launch"},
           {"launch --nproc-per-node 2 config --config x.yaml", "only `train` can be launched"},
       }) {
    auto r = run_command(std::string(SIGTRAIN_EXE) + " " + c.args);
    EXPECT_NE(r.exit_code, 0) << c.args;
    EXPECT_NE(r.output.find(c.expect), std::string::npos) << c.args << "\n" << r.output;
  }
}

TEST(Launch, TwoRanksMatchOneRank) {
  // Same global batch (16 sequences): 1 rank x 2 micro-steps versus 2 ranks x 1 micro-step. Same data, same
  // gradient up to the order of one sum, so losses and parameters agree to float rounding.
  auto dir = fixture::fresh_dir("ddp_parity");
  const std::string cfg = tiny_config(dir);
  trainer::TrainOptions one;
  one.config_files = {cfg};
  one.overrides = {"train.steps=12", "eval.every=6", "checkpoint.every=6", "logging.every=1"};
  one.run_dir = (dir / "one").string();
  ASSERT_EQ(trainer::run_training(one), 0);

  auto r = launch(2, "--config " + cfg + " --run-dir " + (dir / "two").string() +
                         " --set train.steps=12 --set eval.every=6 --set checkpoint.every=6 --set logging.every=1");
  ASSERT_EQ(r.exit_code, 0) << r.output;

  auto a = fixture::read_json(dir / "one" / "summary.json");
  auto b = fixture::read_json(dir / "two" / "summary.json");
  EXPECT_EQ(b["status"], "completed");
  EXPECT_EQ(a["world_size"], 1);
  EXPECT_EQ(b["world_size"], 2);
  expect_close(a["param_sum"].get<double>(), b["param_sum"].get<double>(), 1e-5, "param_sum");
  expect_close(a["param_l2"].get<double>(), b["param_l2"].get<double>(), 1e-5, "param_l2");
  expect_close(a["final_val_loss"].get<double>(), b["final_val_loss"].get<double>(), 1e-5, "final_val_loss");
  expect_same_curves(dir / "one", dir / "two", 1e-5);
  // Rank 0 keeps the run's records; rank 1 only its log. The checkpoints record the world size.
  EXPECT_TRUE(fs::exists(dir / "two" / "rank1.log"));
  EXPECT_FALSE(fs::exists(dir / "two" / "rank0.log"));
  auto state = fixture::read_json(dir / "two" / "checkpoints" / "step_00000012" / "state.json");
  EXPECT_EQ(state["state"]["world_size"], 2);
}

TEST(Launch, CudaGraphsAreRefusedForSeveralRanks) {
  // The graph captures no gradient all-reduce: a data-parallel run with train.cuda_graphs: on is a config error
  // naming the key (checked before the device, so it shows on CPU too).
  auto dir = fixture::fresh_dir("ddp_graphs");
  auto r = launch(2, "--config " + tiny_config(dir) + " --run-dir " + (dir / "run").string() +
                         " --set train.cuda_graphs=on");
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("train.cuda_graphs: on is for one process"), std::string::npos) << r.output;
}

TEST(Launch, ResumeUnderTwoRanksIsBitExact) {
  // 2 ranks for 20 steps straight versus 2 ranks for 10 steps + resume + 10 steps.
  auto dir = fixture::fresh_dir("ddp_resume");
  const std::string cfg = tiny_config(dir);
  auto r = launch(2, "--config " + cfg + " --run-dir " + (dir / "straight").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;

  fixture::copy_as_crashed_after_step_10(dir / "straight", dir / "crashed");
  r = launch(2, "--run-dir " + (dir / "crashed").string() + " --resume");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  fixture::expect_same_summary(dir / "straight", dir / "crashed");
  expect_same_curves(dir / "straight", dir / "crashed", 0.0);
}

TEST(Launch, SigtermOnOneRankStopsBothAtOneStepAndResumesBitExact) {
  // Rank 1 alone gets SIGTERM as step 3 starts; the ranks compare their flags at the logged steps (every 5), so
  // both finish step 5, save its checkpoint together and exit 128 + SIGTERM; resuming gives the straight run.
  auto dir = fixture::fresh_dir("ddp_sigterm");
  const std::string cfg = tiny_config(dir);
  auto r = launch(2, "--config " + cfg + " --run-dir " + (dir / "straight").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = launch(2, "--config " + cfg + " --run-dir " + (dir / "stopped").string() +
                    " --set test_hooks.sigterm_step=3 --set test_hooks.sigterm_rank=1");
  EXPECT_EQ(r.exit_code, 128 + SIGTERM) << r.output;
  const auto summary = fixture::read_json(dir / "stopped" / "summary.json");
  EXPECT_EQ(summary["status"], "interrupted") << summary.dump();
  EXPECT_EQ(summary["last_step"], 5);
  EXPECT_TRUE(fs::exists(dir / "stopped" / "checkpoints" / "step_00000005" / "DONE"));

  r = launch(2, "--run-dir " + (dir / "stopped").string() + " --resume");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  fixture::expect_same_summary(dir / "straight", dir / "stopped");
  expect_same_curves(dir / "straight", dir / "stopped", 0.0);
}

TEST(Launch, ResumeWithAnotherWorldSizeContinuesTheRun) {
  // Written by 1 rank, continued by 2: the data position is global and the optimizer state replicated, so the
  // continuation matches the 1-rank run to float rounding.
  auto dir = fixture::fresh_dir("ddp_world_change");
  trainer::TrainOptions straight;
  straight.config_files = {tiny_config(dir)};
  straight.run_dir = (dir / "straight").string();
  ASSERT_EQ(trainer::run_training(straight), 0);

  fixture::copy_as_crashed_after_step_10(dir / "straight", dir / "crashed");
  auto r = launch(2, "--run-dir " + (dir / "crashed").string() + " --resume");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::ifstream log(dir / "crashed" / "train.log");
  const std::string log_text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  EXPECT_NE(log_text.find("written by 1 rank(s); continuing with 2"), std::string::npos) << log_text;

  auto a = fixture::read_json(dir / "straight" / "summary.json");
  auto b = fixture::read_json(dir / "crashed" / "summary.json");
  EXPECT_EQ(b["world_size"], 2);
  expect_close(a["param_sum"].get<double>(), b["param_sum"].get<double>(), 1e-5, "param_sum");
  expect_close(a["param_l2"].get<double>(), b["param_l2"].get<double>(), 1e-5, "param_l2");
  expect_same_curves(dir / "straight", dir / "crashed", 1e-5);
}

TEST(Launch, RankThatDiesStopsTheJobFast) {
  auto dir = fixture::fresh_dir("ddp_dead_rank");
  const std::string cfg = tiny_config(dir);
  auto r = launch(2, "--config " + cfg + " --run-dir " + (dir / "run").string() + " --set train.steps=200",
                  "SIGTRAIN_TEST_FAIL_RANK=1 SIGTRAIN_TEST_FAIL_STEP=3");
  EXPECT_EQ(r.exit_code, 17) << r.output;
  EXPECT_NE(r.output.find("FAILED: rank 1 (local rank 1) exited with status 17"), std::string::npos) << r.output;
  EXPECT_LT(r.seconds, 60) << "the launcher did not stop the job promptly";
  EXPECT_FALSE(fs::exists(dir / "run" / "checkpoints" / "step_00000200"));
}

TEST(Launch, HungRankTimesOutTheOthers) {
  // Rank 1 stops responding at step 2; rank 0's next collective times out after dist.timeout_s (3 s), rank 0 fails
  // with a message, and the launcher stops the hung rank.
  auto dir = fixture::fresh_dir("ddp_hung_rank");
  const std::string cfg = tiny_config(dir);
  auto r = launch(2,
                  "--config " + cfg + " --run-dir " + (dir / "run").string() +
                      " --set train.steps=200 --set dist.timeout_s=3",
                  "SIGTRAIN_TEST_FAIL_RANK=1 SIGTRAIN_TEST_FAIL_STEP=2 SIGTRAIN_TEST_FAIL_MODE=hang");
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("FAILED: rank 0"), std::string::npos) << r.output;
  EXPECT_LT(r.seconds, 60) << "a hung rank was not detected within the timeout";
  auto summary = fixture::read_json(dir / "run" / "summary.json");
  EXPECT_EQ(summary["status"], "failed");
}
