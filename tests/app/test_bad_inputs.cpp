// Hold-out bad inputs through the real `sigtrain` binary (issue 18): bad configs, command-line flags, checkpoints,
// data files and report inputs. Each case asserts the exit status (common/exit_status.h), that the message names the
// file / key / flag at fault, and that nothing under the test's folder changed: the finished run beside the inputs
// (config, metrics, checkpoints, summary) is byte-identical afterwards and no new folder (no run folder) appeared.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <string>
#include <vector>

#include "common/exit_status.h"
#include "tests/trainer/training_fixture.h"

namespace fs = std::filesystem;
using namespace sigtrain;

namespace {

struct Outcome {
  int status = -1;
  std::string output;  // stdout and stderr together
};

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// `sigtrain ARGS`, run in `cwd` (so a default runs/ folder would appear there).
Outcome run_sigtrain(const fs::path& cwd, const std::string& args) {
  Outcome o;
  const std::string cmd = "cd " + quote(cwd.string()) + " && " + quote(SIGTRAIN_EXE) + " " + args + " 2>&1";
  FILE* pipe = ::popen(cmd.c_str(), "r");
  if (!pipe) return o;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) o.output.append(buf.data(), n);
  const int wait_status = ::pclose(pipe);
  o.status = WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : 128 + WTERMSIG(wait_status);
  return o;
}

// Every file (path -> bytes) and folder (path/ -> "") under `root`: equal snapshots mean nothing was written,
// removed or created there.
using Snapshot = std::map<std::string, std::string>;
Snapshot snapshot(const fs::path& root) {
  Snapshot s;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    const std::string rel = fs::relative(e.path(), root).string();
    s[e.is_directory() ? rel + "/" : rel] = e.is_regular_file() ? fixture::read_text(e.path()) : "";
  }
  return s;
}

// The paths that differ between two snapshots, for the failure message.
std::string differences(const Snapshot& before, const Snapshot& after) {
  std::string d;
  for (const auto& [path, bytes] : before) {
    auto it = after.find(path);
    if (it == after.end())
      d += "  removed " + path + "\n";
    else if (it->second != bytes)
      d += "  changed " + path + "\n";
  }
  for (const auto& [path, bytes] : after)
    if (!before.count(path)) d += "  created " + path + "\n";
  return d;
}

class BadInputs : public ::testing::Test {
 protected:
  // A finished 4-step run (checkpoints at steps 2 and 4) in work_/run, trained by the binary itself.
  void SetUp() override {
    work_ = fixture::fresh_dir(std::string("bad_inputs_") +
                               ::testing::UnitTest::GetInstance()->current_test_info()->name());
    good_config_ = fixture::write_tiny_config(work_);
    const Outcome trained = run_sigtrain(work_, "train --config tiny.yaml --run-dir run --set train.steps=4 "
                                                "--set checkpoint.every=2 --set eval.every=2 --set logging.every=2");
    ASSERT_EQ(trained.status, exit_status::kOk) << trained.output;
    ASSERT_EQ(fixture::read_json(work_ / "run" / "summary.json")["status"], "completed");
  }

  // The tiny config with `from` replaced by `to`, saved as work_/name; returns `name` (what the command line passes,
  // and so what messages name).
  std::string config_with(const std::string& name, const std::string& from, const std::string& to) {
    std::string yaml = fixture::read_text(good_config_);
    const size_t at = yaml.find(from);
    EXPECT_NE(at, std::string::npos) << from << " is not in the tiny config";
    if (at != std::string::npos) yaml.replace(at, from.size(), to);
    return write(name, yaml);
  }
  std::string write(const std::string& name, const std::string& text) {
    std::ofstream(work_ / name) << text;
    return name;
  }

  // Runs `sigtrain ARGS` in work_ and expects exit status `status`, each of `names` in the output, and work_ exactly
  // as it was (so the finished run is untouched and no run folder was created). Returns the output.
  std::string expect_outcome(const std::string& args, int status, const std::vector<std::string>& names) {
    const Snapshot before = snapshot(work_);
    const Outcome o = run_sigtrain(work_, args);
    EXPECT_EQ(o.status, status) << "sigtrain " << args << "\n" << o.output;
    for (const auto& name : names)
      EXPECT_NE(o.output.find(name), std::string::npos) << "sigtrain " << args << ": no '" << name << "' in\n"
                                                        << o.output;
    const Snapshot after = snapshot(work_);
    EXPECT_TRUE(before == after) << "sigtrain " << args << " changed the folder:\n" << differences(before, after);
    return o.output;
  }
  std::string expect_bad_input(const std::string& args, const std::vector<std::string>& names) {
    return expect_outcome(args, exit_status::kBadInput, names);
  }

  fs::path work_;
  std::string good_config_;
};

// --- configs: found by `config` and by `train` before the run folder exists ---------------------------------------

TEST_F(BadInputs, UnknownKeyNamesFileKeyAndSuggestion) {
  const std::string f = config_with("typo.yaml", "lr_peak:", "lr_peek:");
  for (const char* cmd : {"config --config typo.yaml", "train --config typo.yaml --run-dir run",
                          "train --config typo.yaml"})
    expect_bad_input(cmd, {f, "optim.lr_peek", "unknown key", "optim.lr_peak"});
}

TEST_F(BadInputs, BadTypeNamesFileLineAndKey) {
  const std::string f = config_with("bad_type.yaml", "n_layer: 2", "n_layer: two");
  for (const char* cmd : {"config --config bad_type.yaml", "train --config bad_type.yaml --run-dir run"})
    expect_bad_input(cmd, {f + ":", "model.n_layer", "'two'"});
  expect_bad_input("train --config tiny.yaml --run-dir run --set train.steps=many", {"--set", "train.steps", "many"});
}

TEST_F(BadInputs, EmptyConfigIsRefusedUnlessDefaultsAreAllowed) {
  const std::string f = write("empty.yaml", "# nothing here yet\n\n   \n");
  for (const char* cmd : {"config --config empty.yaml", "train --config empty.yaml --run-dir run",
                          "train --config empty.yaml"})
    expect_bad_input(cmd, {f, "empty", "--allow-defaults"});
  // With the flag it is a config of defaults (12 x 768): `config` prints it and writes nothing. (The default
  // corpus is the built-in kjv, which this test folder's cache does not hold: point it at the fixture.)
  const std::string corpus = std::string(SIGTRAIN_SOURCE_DIR) + "/tests/fixtures/text/hamlet-act-1.txt";
  const std::string out = expect_outcome(
      "config --config empty.yaml --allow-defaults --set data.corpus=[" + corpus + "]", exit_status::kOk, {});
  EXPECT_NE(out.find("n_layer: 12"), std::string::npos) << out;
}

TEST_F(BadInputs, FusedAttentionOnCpuIsRefusedBeforeTheRunFolder) {
  config_with("fused.yaml", "backend: math", "backend: fused");
  for (const char* cmd : {"config --config fused.yaml", "train --config fused.yaml --run-dir run",
                          "train --config fused.yaml --run-dir new_run"})
    expect_bad_input(cmd, {"attention.backend", "fused", "math"});
}

TEST_F(BadInputs, FusedOpSwitchedOnWhereItCannotRunIsRefusedBeforeTheRunFolder) {
  for (const char* cmd : {"config --config tiny.yaml --set fused_ops.cross_entropy=on",
                          "train --config tiny.yaml --run-dir new_run --set fused_ops.cross_entropy=on"})
    expect_bad_input(cmd, {"fused_ops.cross_entropy", "CUDA", "auto or off"});
  expect_bad_input("train --config tiny.yaml --run-dir new_run --set fused_ops.cross_entropy=yes",
                   {"fused_ops.cross_entropy", "yes", "auto", "off"});
  expect_bad_input("train --config tiny.yaml --run-dir new_run --set fused_ops.mlp=on",
                   {"fused_ops.mlp", "CUDA", "auto or off"});
  expect_bad_input("train --config tiny.yaml --run-dir new_run --set fused_ops.add_norm=on",
                   {"fused_ops.add_norm", "CUDA", "auto or off"});
}

TEST_F(BadInputs, CudaGraphsSwitchedOnWhereTheyCannotRunAreRefusedBeforeTheRunFolder) {
  for (const char* cmd : {"config --config tiny.yaml --set train.cuda_graphs=on",
                          "train --config tiny.yaml --run-dir new_run --set train.cuda_graphs=on"})
    expect_bad_input(cmd, {"train.cuda_graphs: on needs a CUDA device", "train.cuda_graphs: off"});
  expect_bad_input("train --config tiny.yaml --run-dir new_run --set train.cuda_graphs=always",
                   {"train.cuda_graphs", "always", "off", "on", "auto"});
  expect_bad_input("train --config tiny.yaml --run-dir new_run --set train.cuda_graphs_max_shapes=0",
                   {"train.cuda_graphs_max_shapes", "0"});
  // auto is off where graphs cannot run: a CPU config resolves without an error.
  expect_outcome("config --config tiny.yaml --set train.cuda_graphs=auto", 0, {"cuda_graphs: auto"});
}

TEST_F(BadInputs, ProfileKeysOutOfRangeAreNamed) {
  expect_bad_input("train --config tiny.yaml --run-dir new_run --set profile.start_step=3 --set profile.steps=0",
                   {"profile.steps", "0"});
  expect_bad_input("train --config tiny.yaml --run-dir new_run --set profile.start_step=-1", {"profile.start_step"});
}

TEST_F(BadInputs, BatchThatDoesNotDivideIsRefusedBeforeTheRunFolder) {
  config_with("batch.yaml", "global_batch_tokens: 512", "global_batch_tokens: 500");
  for (const char* cmd : {"config --config batch.yaml", "train --config batch.yaml --run-dir run",
                          "train --config batch.yaml --run-dir new_run"})
    expect_bad_input(cmd, {"train.global_batch_tokens", "500", "data.seq_len"});
  // 16 sequences per step do not split into micro-batches of 5.
  expect_bad_input("train --config tiny.yaml --run-dir new_run --set train.micro_batch_size=5",
                   {"train.global_batch_tokens", "train.micro_batch_size = 5"});
}

TEST_F(BadInputs, MissingConfigFileSaysDoesNotExist) {
  for (const char* cmd : {"config --config nope.yaml", "train --config nope.yaml", "train -c nope.yaml --run-dir run"})
    expect_bad_input(cmd, {"nope.yaml", "does not exist"});
  const std::string f = write("child.yaml", "base: gone.yaml\n");
  expect_bad_input("config --config child.yaml", {"gone.yaml", "does not exist", f});
}

// --- command-line flags: CLI11's errors are exit status 2 too -----------------------------------------------------

TEST_F(BadInputs, UnknownFlagIsNamed) {
  expect_bad_input("train --config tiny.yaml --run-dir run --frobnicate", {"--frobnicate"});
  expect_bad_input("report run --colour", {"--colour"});
}

TEST_F(BadInputs, FlagWithoutItsValueIsNamed) {
  expect_bad_input("train --config", {"--config"});
  expect_bad_input("train --config tiny.yaml --run-dir", {"--run-dir"});
  expect_bad_input("launch --nproc-per-node", {"--nproc-per-node"});
}

TEST_F(BadInputs, NoSubcommandPrintsHelpAndIsBadInput) {
  expect_bad_input("", {"Subcommands:", "train", "a subcommand is required"});
  expect_bad_input("data", {"subcommand is required"});
  expect_bad_input("frobnicate", {"frobnicate"});
  expect_bad_input("train", {"--config"});  // neither --config nor --resume
  // Asking for help or the version is no error.
  expect_outcome("--help", exit_status::kOk, {"Subcommands:"});
  expect_outcome("train --help", exit_status::kOk, {"--allow-defaults"});
  expect_outcome("--version", exit_status::kOk, {"sigtrain"});
}

// --- checkpoints --------------------------------------------------------------------------------------------------

TEST_F(BadInputs, ResumeFromAMissingPathSaysDoesNotExist) {
  expect_bad_input("train --resume no_such_run", {"no_such_run", "does not exist"});
  expect_bad_input("train --resume --run-dir no_such_run", {"no_such_run", "does not exist"});
  fs::create_directories(work_ / "empty_run");
  expect_bad_input("train --resume empty_run", {"empty_run", "no complete checkpoint"});
}

TEST_F(BadInputs, DamagedCheckpointIsNamedAndTheRunLeftAsItWas) {
  fs::copy(work_ / "run", work_ / "damaged", fs::copy_options::recursive);
  const fs::path model = work_ / "damaged" / "checkpoints" / "step_00000004" / "model.pt";
  std::string bytes = fixture::read_text(model);
  bytes[bytes.size() / 2] ^= 0x5a;
  std::ofstream(model, std::ios::binary) << bytes;
  expect_bad_input("train --resume damaged --set train.steps=8", {"step_00000004", "model.pt", "damaged"});
  // Another model than the checkpoint's is refused with the difference, before the folder is touched.
  expect_bad_input("train --resume run --set train.steps=8 --set model.n_layer=3", {"model.n_layer", "2 -> 3"});
}

TEST_F(BadInputs, ResumingTheCompletedRunChangesNothing) {
  expect_outcome("train --resume run", exit_status::kOk, {"complete"});
}

// --- data files: a missing one is refused before the run; one that cannot be trained on fails the run truthfully --

TEST_F(BadInputs, MissingCorpusIsRefusedBeforeTheRun) {
  const std::string corpus = (work_ / "no_such_corpus.txt").string();
  config_with("no_corpus.yaml", std::string(SIGTRAIN_SOURCE_DIR) + "/tests/fixtures/text/hamlet-act-1.txt", corpus);
  for (const char* cmd : {"config --config no_corpus.yaml", "train --config no_corpus.yaml --run-dir failed"})
    expect_bad_input(cmd, {"data.corpus", corpus});
}

TEST_F(BadInputs, TooShortCorpusFailsTheRunWithATruthfulSummary) {
  // The corpus exists (so the run starts) but holds fewer tokens than one window: the task fails while preparing
  // its data, inside the run. Exit status 1, its folder holds a summary that says why, the finished run beside it
  // is untouched.
  const std::string corpus = write("short.txt", "To be.\n");
  config_with("short_corpus.yaml", std::string(SIGTRAIN_SOURCE_DIR) + "/tests/fixtures/text/hamlet-act-1.txt",
              (work_ / corpus).string());
  const Snapshot before = snapshot(work_ / "run");
  const Outcome o = run_sigtrain(work_, "train --config short_corpus.yaml --run-dir failed");
  EXPECT_EQ(o.status, exit_status::kRunFailed) << o.output;
  EXPECT_TRUE(before == snapshot(work_ / "run")) << differences(before, snapshot(work_ / "run"));

  const auto s = fixture::read_json(work_ / "failed" / "summary.json");
  EXPECT_EQ(s["status"], "failed");
  const std::string reason = s["reason"].get<std::string>();
  EXPECT_FALSE(reason.empty()) << s.dump(2);
  EXPECT_NE(o.output.find(reason.substr(0, 30)), std::string::npos) << o.output;
  EXPECT_EQ(s["last_step"], 0);
  for (const char* unmeasured : {"final_train_loss", "final_val_loss", "best_val_loss", "tokens_per_s"})
    EXPECT_TRUE(s[unmeasured].is_null()) << unmeasured << " of a run that never stepped: " << s.dump(2);

  // The report shows "–" for what was never measured and the reason; never inf, nan, null or a made-up 0.
  const Outcome report = run_sigtrain(work_, "report failed --out report --no-plots");
  EXPECT_EQ(report.status, exit_status::kOk) << report.output;
  const std::string md = fixture::read_text(work_ / "report" / "report.md");
  const std::regex placeholder("\\b(inf|nan|null)\\b", std::regex::icase);
  for (const std::string& text : {report.output, md}) {
    EXPECT_FALSE(std::regex_search(text, placeholder)) << text;
    EXPECT_NE(text.find("\u2013"), std::string::npos) << text;  // "–"
    EXPECT_NE(text.find("failed"), std::string::npos) << text;
    EXPECT_NE(text.find(reason.substr(0, 30)), std::string::npos) << "no failure reason in\n" << text;
  }
}

// --- report inputs ------------------------------------------------------------------------------------------------

TEST_F(BadInputs, ReportOfAMissingFolderSaysDoesNotExist) {
  expect_bad_input("report no_such_run --no-plots", {"no_such_run", "does not exist"});
  expect_bad_input("report run no_such_run --no-plots", {"no_such_run", "does not exist"});
  expect_bad_input("report", {"no run folders given", "--arm NAME=RUN"});
}

// `--arm NAME=RUN[,RUN...]` (several runs per arm): each malformed value names the flag and what was expected, and
// nothing is written (no report folder appears).
TEST_F(BadInputs, ReportArmSyntaxErrorsNameTheFlagAndTheExpectedForm) {
  const std::string form = "expected NAME=RUN[,RUN...]";
  expect_bad_input("report --arm softmax= --out report --no-plots", {"--arm 'softmax='", "no run folders", form});
  expect_bad_input("report --arm softmax --out report --no-plots", {"--arm 'softmax'", "no '='", form});
  expect_bad_input("report --arm =run --out report --no-plots", {"--arm '=run'", "no arm name", form});
  expect_bad_input("report --arm a=run,,run --out report --no-plots", {"--arm 'a=run,,run'", "empty run folder"});
  expect_bad_input("report --arm a=run,no_such_run --out report --no-plots",
                   {"--arm a", "'no_such_run'", "does not exist"});
  expect_bad_input("report --arm a=run --arm a=run --out report --no-plots", {"--arm", "'a'", "given twice"});
  expect_bad_input("report --arm a=run --arm b=./run --out report --no-plots",
                   {"'./run'", "listed twice", "arm 'a'", "arm 'b'"});
  expect_bad_input("report --arm", {"--arm"});
}

TEST_F(BadInputs, ReportOfAFolderWithoutRunFilesIsRefused) {
  fs::create_directories(work_ / "not_a_run");
  expect_bad_input("report run not_a_run --no-plots", {"not_a_run", "not a run folder"});
  fs::create_directories(work_ / "damaged_summary");
  write("damaged_summary/summary.json", "{\"status\": \"compl");
  expect_bad_input("report damaged_summary --no-plots", {"damaged_summary/summary.json", "damaged"});
}

TEST_F(BadInputs, DataInspectOfAMissingFileSaysDoesNotExist) {
  expect_bad_input("data inspect no_such.h5ad", {"no_such.h5ad", "does not exist"});
}

}  // namespace
