// `sigtrain train`: config → checks → run folder → TrainingRun (trainer/loop/training_run.cpp) → summary.json.
#include "trainer/loop/trainer.h"

#include <torch/torch.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <iomanip>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/atomic_file.h"
#include "common/config.h"
#include "common/exit_status.h"
#include "common/log.h"
#include "sigtrain/build_info.h"
#include "trainer/checkpoint/checkpoint.h"
#include "trainer/distributed/distributed.h"
#include "trainer/loop/progress.h"
#include "trainer/loop/run_checks.h"
#include "trainer/loop/run_config.h"
#include "trainer/loop/run_files.h"
#include "trainer/loop/runtime.h"
#include "trainer/loop/stop_signal.h"
#include "trainer/loop/training_run.h"

namespace sigtrain::trainer {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

std::string utc_stamp() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::ostringstream os;
  os << std::put_time(&tm, "%Y%m%d-%H%M%S");
  return os.str();
}

// The checkpoint to resume from: --resume PATH (a run folder, its checkpoints folder or one checkpoint), or with an
// empty PATH the latest checkpoint of --run-dir.
std::string find_resume_checkpoint(const TrainOptions& opts) {
  const std::string where = opts.resume->empty() ? opts.run_dir : *opts.resume;
  if (where.empty()) throw CheckpointError("--resume without a path needs --run-dir (the run folder to continue)");
  if (!fs::exists(where)) throw CheckpointError(where + ": does not exist (--resume expects a run folder)");
  auto dir = find_latest_checkpoint(where);
  if (!dir) throw CheckpointError(where + ": no complete checkpoint found (looked for step_*/DONE)");
  return *dir;
}

// The keys a checkpoint must match: the loop's and the task's.
void check_resumable(const CheckpointContents& checkpoint, const std::string& checkpoint_dir, const RunConfig& cfg) {
  std::vector<std::string> keys = kLoopResumeMustMatch;
  for (const auto& k : task_definition(cfg.task).resume_must_match) keys.push_back(k);
  auto diffs = config::config_differences(checkpoint.config_yaml, cfg.resolved_yaml, keys);
  if (diffs.empty()) return;
  std::string msg = "checkpoint " + checkpoint_dir + " was written with a different config:";
  for (const auto& d : diffs) msg += "\n  " + d;
  msg += "\nresume with the same values (or start a new run)";
  throw CheckpointError(msg);
}

// The run's config from its files and overrides. A file without keys is refused unless `allow_defaults`: training
// a 12-layer model on defaults alone is almost never what an empty (or wrongly saved) file meant.
RunConfig load_config(const std::vector<std::string>& files, const std::vector<std::string>& overrides,
                      bool allow_defaults) {
  if (!allow_defaults)
    for (const auto& f : files)
      if (config::config_file_is_empty(f))
        throw config::ConfigError(f + ": the config file is empty (no keys, only comments or whitespace); the run "
                                  "would use defaults for everything. Give a config with keys, or pass "
                                  "--allow-defaults to mean it");
  return load_run_config(files, overrides);
}

}  // namespace

std::string resolve_config(const std::vector<std::string>& files, const std::vector<std::string>& overrides,
                           bool allow_defaults) {
  const RunConfig cfg = load_config(files, overrides, allow_defaults);
  check_runnable(cfg, /*world_size=*/1, /*local_rank=*/0);  // as `train` would (more ranks must divide it too)
  return cfg.resolved_yaml;
}

int run_training(const TrainOptions& opts) {
  const auto wall_start = Clock::now();

  // --- 1. Config (and the checkpoint to resume from, whose config is the default) -------------------------------
  std::optional<std::string> resume_dir;
  if (opts.resume) resume_dir = find_resume_checkpoint(opts);
  std::optional<CheckpointContents> peeked;
  if (resume_dir) peeked = peek_checkpoint(*resume_dir);
  if (opts.config_files.empty() && !peeked)
    throw config::ConfigError("no config: pass --config FILE (or --resume a run)");
  // Resuming without --config continues with the checkpoint's own resolved config (plus any --set).
  RunConfig cfg = load_config(
      opts.config_files.empty() ? std::vector<std::string>{*resume_dir + "/config.yaml"} : opts.config_files,
      opts.overrides, opts.allow_defaults);
  if (peeked) {
    check_resumable(*peeked, *resume_dir, cfg);
    if (peeked->step >= cfg.train.steps) {  // nothing to do: the folder stays exactly as it is
      log::init(cfg.logging.level);           // (console only: no log file of the run is touched either)
      // A warning, so that it shows at every logging.level: the command trained nothing.
      log::warn("run " + fs::path(*resume_dir).parent_path().parent_path().string() + " is complete: its last " +
                "checkpoint is at step " + std::to_string(peeked->step) + " of train.steps = " +
                std::to_string(cfg.train.steps) + " (pass --set train.steps=N with a larger N to continue)");
      return exit_status::kOk;
    }
  }

  // --- 2. This process's rank and device; everything that can be checked before the run folder exists -----------
  const DistEnv dist_env = read_dist_env();
  const Runtime rt = check_runnable(cfg, dist_env.world_size, dist_env.local_rank);
  DistributedContext dist(cfg.dist, dist_env, rt.device);
  const int rank = dist.rank(), world = dist.world_size();

  // --- 3. Run folder, logging -------------------------------------------------------------------------------------
  std::string run_dir = opts.run_dir;
  if (run_dir.empty())
    run_dir = resume_dir ? fs::path(*resume_dir).parent_path().parent_path().string()
                         : (fs::path("runs") / (cfg.name + "-" + utc_stamp())).string();
  run_dir = dist.broadcast_string(run_dir);  // rank 0's clock names the folder
  fs::create_directories(run_dir);
  log::init(cfg.logging.level,
            (fs::path(run_dir) / (rank == 0 ? "train.log" : "rank" + std::to_string(rank) + ".log")).string(),
            world > 1 ? rank : -1);
  if (rank != 0) log::set_console_level(log::Level::kWarn);  // rank 0 reports; the others only warn and fail
  if (rank == 0) write_file_atomic((fs::path(run_dir) / "config.yaml").string(), cfg.resolved_yaml);
  log::info("sigtrain " + std::string(build_info::kVersion) + " (" + build_info::kGitCommit + "), LibTorch " +
            build_info::kTorchVersion + "; run folder " + run_dir + "; task " + cfg.task);

  // --- 4. The run -------------------------------------------------------------------------------------------------
  RunSummary summary;
  const std::string summary_path = (fs::path(run_dir) / "summary.json").string();
  nlohmann::json summary_extra = {{"run_dir", run_dir}, {"config", cfg.name}, {"task", cfg.task}};
  std::unique_ptr<TrainingRun> run;  // outlives the try: a failure records how far the run got
  try {
    run = std::make_unique<TrainingRun>(std::move(cfg), rt, dist, run_dir, resume_dir);
    {
      const StopSignals stop_signals;  // SIGTERM / SIGINT from here on: finish the step, checkpoint, stop
      run->run(summary);
    }
    summary.wall_time_s = std::chrono::duration<double>(Clock::now() - wall_start).count();
    summary_extra.update(run->summary_extra());
    if (rank == 0) write_summary(summary_path, summary, summary_extra);
    auto loss_text = [](const std::optional<double>& v) { return v ? format_fixed(*v, 4) : std::string("-"); };
    log::info("done: " + summary.status + " at step " + std::to_string(summary.last_step) + ", train loss " +
              loss_text(summary.final_train_loss) + ", validation loss " + loss_text(summary.final_val_loss) + " (" +
              format_fixed(summary.wall_time_s, 1) + " s)");
    if (summary.status == "interrupted") return 128 + summary.stop_signal;  // the shell's "ended by signal N"
    return summary.status == "diverged" ? exit_status::kRunFailed : exit_status::kOk;
  } catch (const std::exception& e) {
    summary.status = "failed";
    summary.reason = e.what();
    if (run)
      record_progress(summary, run->state());
    else if (peeked)
      summary.last_step = peeked->step;  // failed while setting up the resume: the run stands where it stood
    summary.wall_time_s = std::chrono::duration<double>(Clock::now() - wall_start).count();
    if (rank == 0) write_summary(summary_path, summary, summary_extra);
    if (world > 1) log::error(std::string("rank ") + std::to_string(rank) + " failed: " + e.what());
    throw RunFailed(e.what());  // whatever its type, the input was accepted: this is a failed run (exit status 1)
  }
}

}  // namespace sigtrain::trainer
