// The training loop. Read train_step() first: it is the whole optimizer step in order.
#include "trainer/trainer.h"

#include <ATen/autocast_mode.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <iomanip>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/atomic_file.h"
#include "common/log.h"
#include "data/lm_sampler.h"
#include "sigtrain/build_info.h"
#include "trainer/checkpoint.h"
#include "trainer/device_peak.h"
#include "trainer/distributed.h"
#include "trainer/grad_sync.h"
#include "trainer/lr_schedule.h"
#include "trainer/monitor.h"
#include "trainer/optimizer.h"
#include "trainer/progress.h"
#include "trainer/run_config.h"
#include "trainer/run_files.h"
#include "trainer/task_factory.h"

namespace sigtrain::trainer {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

// ----------------------------------------------------------------------------------------------------------------
// Where and in which precision the run computes.
// ----------------------------------------------------------------------------------------------------------------
struct Runtime {
  torch::Device device{torch::kCPU};
  bool bf16_autocast = false;
  std::string device_name = "cpu";
  std::optional<DevicePeak> peak;
};

// Each data-parallel rank computes on its local GPU (cuda:LOCAL_RANK); a single process on cuda:0.
Runtime select_runtime(const TrainConfig& t, int local_rank) {
  Runtime rt;
  const bool cuda_ok = torch::cuda::is_available();
  if (t.device == "cuda" && !cuda_ok)
    throw config::ConfigError("train.device: cuda requested but no CUDA device is available (LibTorch " +
                              std::string(build_info::kTorchVersion) +
                              (build_info::kTorchCuda ? ", built with CUDA" : ", built without CUDA") +
                              "); use train.device=cpu or auto");
  if (t.device == "cuda" || (t.device == "auto" && cuda_ok)) {
    if (local_rank >= static_cast<int>(torch::cuda::device_count()))
      throw config::ConfigError("LOCAL_RANK " + std::to_string(local_rank) + " needs a GPU cuda:" +
                                std::to_string(local_rank) + " but only " +
                                std::to_string(torch::cuda::device_count()) +
                                " CUDA device(s) are visible; start at most that many ranks per node");
    rt.device = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(local_rank));
    rt.device_name = cuda_device_name(local_rank);
    rt.peak = lookup_device_peak(rt.device_name);
  }
  if (t.precision == "bf16" && rt.device.is_cpu())
    throw config::ConfigError("train.precision: bf16 autocast is for CUDA runs; use fp32 (or auto) on CPU");
  rt.bf16_autocast = rt.device.is_cuda() && (t.precision == "bf16" || t.precision == "auto");
  return rt;
}

// bf16 autocast for the forward pass on CUDA (fp32 master weights and optimizer state stay fp32).
class AutocastScope {
 public:
  explicit AutocastScope(bool enabled) : enabled_(enabled) {
    if (!enabled_) return;
    at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
    at::autocast::set_autocast_enabled(at::kCUDA, true);
  }
  ~AutocastScope() {
    if (!enabled_) return;
    at::autocast::set_autocast_enabled(at::kCUDA, false);
    at::autocast::clear_cache();
  }

 private:
  bool enabled_;
};

// ----------------------------------------------------------------------------------------------------------------
// Batch arithmetic: global batch in tokens -> sequences per step -> micro-batches and accumulation.
// ----------------------------------------------------------------------------------------------------------------
struct BatchPlan {
  int64_t seq_len = 0;
  int64_t seqs_per_step = 0;   // over all ranks
  int64_t seqs_per_rank = 0;
  int64_t micro_batch = 0;
  int64_t accum_steps = 0;
};

BatchPlan plan_batches(const RunConfig& c, int world_size) {
  BatchPlan p;
  p.seq_len = c.data.seq_len;
  p.micro_batch = c.train.micro_batch_size;
  if (c.train.global_batch_tokens % p.seq_len != 0)
    throw config::ConfigError("train.global_batch_tokens: " + std::to_string(c.train.global_batch_tokens) +
                              " is not a multiple of data.seq_len = " + std::to_string(p.seq_len));
  p.seqs_per_step = c.train.global_batch_tokens / p.seq_len;
  if (p.seqs_per_step % (p.micro_batch * world_size) != 0)
    throw config::ConfigError(
        "train.global_batch_tokens: " + std::to_string(p.seqs_per_step) + " sequences per step do not split into " +
        std::to_string(world_size) + " rank(s) x train.micro_batch_size = " + std::to_string(p.micro_batch) +
        "; choose global_batch_tokens = seq_len x micro_batch_size x ranks x accumulation steps");
  p.seqs_per_rank = p.seqs_per_step / world_size;
  p.accum_steps = p.seqs_per_rank / p.micro_batch;
  if (c.model.max_seq_len < p.seq_len)
    throw config::ConfigError("model.max_seq_len: " + std::to_string(c.model.max_seq_len) +
                              " is smaller than data.seq_len = " + std::to_string(p.seq_len));
  return p;
}

// Global L2 norm of all gradients as a 0-dim device tensor (no host sync).
torch::Tensor global_grad_norm(const std::vector<torch::Tensor>& params) {
  std::vector<torch::Tensor> grads;
  grads.reserve(params.size());
  for (const auto& p : params)
    if (p.grad().defined()) grads.push_back(p.grad());
  if (grads.empty()) return torch::zeros({}, params.front().options().dtype(torch::kFloat32));
  auto norms = at::_foreach_norm(grads, 2);
  return torch::linalg_vector_norm(torch::stack(norms).to(torch::kFloat32), 2);
}

// Scales gradients so their global norm is at most max_norm; on device, no sync.
void clip_gradients(const std::vector<torch::Tensor>& params, const torch::Tensor& norm, double max_norm) {
  std::vector<torch::Tensor> grads;
  for (const auto& p : params)
    if (p.grad().defined()) grads.push_back(p.grad());
  auto coef = torch::clamp_max(max_norm / (norm + 1e-6), 1.0);
  at::_foreach_mul_(grads, coef);
}

std::string utc_stamp() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::ostringstream os;
  os << std::put_time(&tm, "%Y%m%d-%H%M%S");
  return os.str();
}

// Checkpoint compatibility: these must match for a resume to continue the same run.
const std::vector<std::string> kResumeMustMatch = {"model", "attention", "data", "train.seed",
                                                   "train.global_batch_tokens", "train.micro_batch_size",
                                                   "mlm", "singlecell"};

}  // namespace

std::string resolve_config(const std::vector<std::string>& files, const std::vector<std::string>& overrides) {
  return load_run_config(files, overrides).resolved_yaml;
}

int run_training(const TrainOptions& opts) {
  const auto wall_start = Clock::now();

  // --- 1. Config (and the checkpoint to resume from, whose config is the default) -------------------------------
  std::optional<std::string> resume_dir;
  if (opts.resume) {
    std::string where = opts.resume->empty() ? opts.run_dir : *opts.resume;
    if (where.empty())
      throw CheckpointError("--resume without a path needs --run-dir (the run folder to continue)");
    resume_dir = find_latest_checkpoint(where);
    if (!resume_dir) throw CheckpointError(where + ": no complete checkpoint found (looked for step_*/DONE)");
  }
  std::optional<CheckpointContents> peeked;
  if (resume_dir) peeked = peek_checkpoint(*resume_dir);
  if (opts.config_files.empty() && !peeked)
    throw config::ConfigError("no config: pass --config FILE (or --resume a run)");
  // Resuming without --config continues with the checkpoint's own resolved config (plus any --set).
  RunConfig cfg = load_run_config(
      opts.config_files.empty() ? std::vector<std::string>{*resume_dir + "/config.yaml"} : opts.config_files,
      opts.overrides);
  if (peeked) {
    auto diffs = config::config_differences(peeked->config_yaml, cfg.resolved_yaml, kResumeMustMatch);
    if (!diffs.empty()) {
      std::string msg = "checkpoint " + *resume_dir + " was written with a different config:";
      for (const auto& d : diffs) msg += "\n  " + d;
      msg += "\nresume with the same values (or start a new run)";
      throw CheckpointError(msg);
    }
  }

  // --- 1b. Data parallelism: this process's rank (from sigtrain launch / torchrun / Slurm) and the process group;
  // a single process has none (docs/distributed.md). Every rank computes on its local GPU.
  const DistEnv dist_env = read_dist_env();
  const Runtime rt = select_runtime(cfg.train, dist_env.local_rank);
  DistributedContext dist(cfg.dist, dist_env, rt.device);
  const int rank = dist.rank(), world = dist.world_size();

  // --- 2. Run folder, logging -------------------------------------------------------------------------------------
  std::string run_dir = opts.run_dir;
  if (run_dir.empty())
    run_dir = resume_dir ? fs::path(*resume_dir).parent_path().parent_path().string()
                         : (fs::path("runs") / (cfg.name + "-" + utc_stamp())).string();
  run_dir = dist.broadcast_string(run_dir);  // rank 0's clock names the folder
  fs::create_directories(run_dir);
  log::init(cfg.logging.level == "debug"  ? log::Level::kDebug
            : cfg.logging.level == "warn" ? log::Level::kWarn
            : cfg.logging.level == "error" ? log::Level::kError
                                          : log::Level::kInfo,
            (fs::path(run_dir) / (rank == 0 ? "train.log" : "rank" + std::to_string(rank) + ".log")).string(),
            world > 1 ? rank : -1);
  if (rank != 0) log::set_console_level(log::Level::kWarn);  // rank 0 reports; the others only warn and fail
  if (rank == 0) write_file_atomic((fs::path(run_dir) / "config.yaml").string(), cfg.resolved_yaml);
  log::info("sigtrain " + std::string(build_info::kVersion) + " (" + build_info::kGitCommit + "), LibTorch " +
            build_info::kTorchVersion + "; run folder " + run_dir);

  RunSummary summary;
  const std::string summary_path = (fs::path(run_dir) / "summary.json").string();
  nlohmann::json summary_extra = {{"run_dir", run_dir}, {"config", cfg.name}};

  try {
    // --- 3. Runtime, seed, data, model, optimizer --------------------------------------------------------------
    if (cfg.train.threads > 0) torch::set_num_threads(static_cast<int>(cfg.train.threads));
    if (cfg.train.deterministic) at::globalContext().setDeterministicAlgorithms(true, /*warn_only=*/true);
    torch::manual_seed(cfg.train.seed);
    const BatchPlan plan = plan_batches(cfg, world);

    // Rank 0 prepares the data (tokenises and caches the corpus) before the other ranks open the cache.
    std::unique_ptr<Task> task;
    dist.rank0_first([&] { task = make_task(cfg); });
    if (cfg.model.vocab_size == 0) cfg.model.vocab_size = task->vocab_size();
    if (cfg.model.vocab_size < task->vocab_size())
      throw config::ConfigError("model.vocab_size: " + std::to_string(cfg.model.vocab_size) +
                                " is smaller than the tokenizer's " + std::to_string(task->vocab_size()) +
                                " ids; set 0 to take it from the tokenizer");
    log::info("data: " + task->describe());
    if (rank == 0) task->write_run_files(run_dir);  // e.g. the single-cell gene vocabulary

    auto model = models::build_model(cfg.model, cfg.attention);
    model->to(rt.device);
    OptimizerGroups groups;
    auto param_infos = model->param_info();
    auto optimizer = make_adamw(param_infos, cfg.optim, &groups);
    const bool fused_adamw = use_fused_adamw(cfg.optim, rt.device);
    std::vector<torch::Tensor> params;
    for (const auto& p : param_infos) params.push_back(p.param);
    const double flops_per_token = model->flops_per_token(plan.seq_len);
    log::info("model: " + std::to_string(model->num_params(false)) + " parameters (" +
              std::to_string(model->num_params(true)) + " without embeddings), attention " +
              models::to_string(cfg.attention.kind) + " via " + cfg.attention.backend + "; AdamW decays " +
              std::to_string(groups.decayed_params) + " params, not " + std::to_string(groups.undecayed_params));
    log::info("device " + rt.device_name + (rt.bf16_autocast ? ", bf16 autocast" : ", fp32") + "; " +
              std::to_string(plan.seqs_per_step) + " seqs x " + std::to_string(plan.seq_len) +
              " tokens per step = micro-batch " + std::to_string(plan.micro_batch) + " x " +
              std::to_string(plan.accum_steps) + " accumulation step(s)");
    log::info(std::string("AdamW step: ") +
              (fused_adamw ? "fused multi-tensor (at::_fused_adamw_, one call per group)"
                           : "per-parameter (torch::optim::AdamW::step)") +
              " [optim.fused: " + cfg.optim.fused + "]");
    // Data parallelism: gradients become views into flat buckets that are averaged over ranks during backward.
    std::unique_ptr<GradSync> grad_sync;
    if (world > 1) {
      grad_sync = std::make_unique<GradSync>(params, dist, cfg.dist.bucket_mb, cfg.dist.overlap);
      log::info(dist.describe() + "; " + grad_sync->describe());
    }

    // --- 4. Resume ---------------------------------------------------------------------------------------------
    int64_t start_step = 0;
    int64_t tokens_seen = 0;
    double best_val_loss = INFINITY;
    if (resume_dir) {
      auto ck = load_checkpoint(*resume_dir, *model, *optimizer);
      start_step = ck.step;
      task->restore(ck.state.at("data"));
      tokens_seen = ck.state.value("tokens_seen", int64_t{0});
      // JSON has no infinity: a checkpoint saved before any evaluation stores best_val_loss as null.
      if (ck.state.contains("best_val_loss") && ck.state["best_val_loss"].is_number())
        best_val_loss = ck.state["best_val_loss"].get<double>();
      log::info("resumed from " + *resume_dir + " at step " + std::to_string(start_step));
      // Another world size continues the same run: the data position is one global counter, the optimizer state is
      // replicated, the global batch is unchanged; only the order of the gradient sum changes (float rounding).
      const int64_t saved_world = ck.state.value("world_size", int64_t{1});
      if (saved_world != world)
        log::info("the checkpoint was written by " + std::to_string(saved_world) + " rank(s); continuing with " +
                  std::to_string(world) + " (same global batch, " + std::to_string(plan.accum_steps) +
                  " accumulation step(s) per rank)");
    }
    if (world > 1) {
      if (resume_dir)  // each rank read the checkpoint itself: it must be the same one on every rank
        dist.check_same_on_all_ranks(
            "the checkpoint loaded (" + *resume_dir + "; is the run folder on a file system all nodes share?)",
            {start_step, static_cast<int64_t>(std::stoull(parameter_digest(*model), nullptr, 16))},
            {"step", "parameter_digest"});
      else
        grad_sync->broadcast_parameters();  // rank 0's initialisation on every rank
      if (rt.device.is_cuda()) {
        // All ranks draw the same random numbers (one seed, same shapes), so rank 0's device generator is every
        // rank's; after a resume rank r>0 would otherwise hold rank 0's never-used state for cuda:r.
        at::Generator gen = at::globalContext().defaultGenerator(rt.device);
        torch::Tensor rng_state = gen.get_state();
        dist.broadcast(rng_state, 0);
        gen.set_state(rng_state);
      }
    }
    // Only rank 0 keeps the run's records; the other ranks' writer goes nowhere.
    MetricsWriter metrics(rank == 0 ? (fs::path(run_dir) / "metrics.jsonl").string() : "/dev/null",
                          rank == 0 && resume_dir ? start_step : -1);
    CheckpointManager checkpoints((fs::path(run_dir) / "checkpoints").string(), cfg.checkpoint.keep_last);
    // Stability instruments and policies (trainer/monitor.h); the one host sync per logged step happens in it.
    Monitor monitor(cfg.monitor, *model, rank == 0 ? (fs::path(run_dir) / "metrics.h5").string() : "",
                    resume_dir ? start_step : -1);
    auto save_checkpoint = [&](int64_t step) {
      monitor.sync();  // a detected divergence never overwrites the last good checkpoint
      if (monitor.diverged()) {
        log::warn("not saving a checkpoint at step " + std::to_string(step) + ": the run diverged at step " +
                  std::to_string(monitor.diverged_step()));
        return;
      }
      nlohmann::json state = {{"data", task->state()},
                              {"tokens_seen", tokens_seen},
                              {"best_val_loss", best_val_loss},
                              {"world_size", world}};
      // Rank 0 writes everything (parameters and optimizer state are replicated, the data position is global);
      // every rank passes a barrier before the DONE marker, so DONE means all ranks completed this step.
      if (rank != 0) {
        dist.barrier();
        return;
      }
      std::string where =
          checkpoints.save(step, *model, *optimizer, state, cfg.resolved_yaml, [&] { dist.barrier(); });
      log::info("checkpoint " + where);
    };

    // Validation loss over the fixed set plus the task's own metrics, as one eval record (also written here).
    auto evaluate = [&](int64_t at_step) -> double {
      torch::NoGradGuard no_grad;
      model->eval();
      AutocastScope autocast(rt.bf16_autocast);
      auto f64 = torch::TensorOptions().device(rt.device).dtype(torch::kFloat64);
      torch::Tensor loss_sum = torch::zeros({}, f64), count = torch::zeros({}, f64);
      // Each rank evaluates its contiguous slice of the fixed set; sums and counts are added over ranks.
      const data::RankSlice mine = data::rank_slice(task->val_size(), rank, world);
      for (int64_t first = mine.offset; first < mine.offset + mine.count; first += cfg.eval.batch_size) {
        const int64_t n = std::min(cfg.eval.batch_size, mine.offset + mine.count - first);
        auto [sum, targets] = task->loss_sum(*model, task->val_batch(first, n, rt.device));
        loss_sum += sum.to(torch::kFloat64);
        count += targets.to(torch::kFloat64);
      }
      if (world > 1) {
        torch::Tensor both = torch::stack({loss_sum, count});
        dist.all_reduce_sum(both);
        loss_sum = both[0];
        count = both[1];
      }
      const double val_loss = (loss_sum / count).item<double>();
      nlohmann::json record = {{"type", "eval"}, {"step", at_step}, {"val_loss", val_loss}};
      record.update(task->evaluate_extra(*model, rt.device));
      metrics.write(record);
      log::info("step " + std::to_string(at_step) + ": " + record.dump());
      model->train();
      return val_loss;
    };

    // --- 5. The loop -------------------------------------------------------------------------------------------
    // One optimizer step: accumulate gradients over micro-batches, measure the global grad norm (always), clip if
    // configured, apply the scheduled lr, step AdamW. Returns the mean loss and the norm as device tensors.
    auto train_step = [&](double lr) -> std::pair<torch::Tensor, torch::Tensor> {
      if (grad_sync)
        grad_sync->zero_grad();  // keeps the gradients' bucket views
      else
        optimizer->zero_grad(/*set_to_none=*/true);
      torch::Tensor loss_sum = torch::zeros({}, torch::TensorOptions().device(rt.device));
      for (int64_t micro = 0; micro < plan.accum_steps; ++micro) {
        Batch batch = task->train_batch(plan.seqs_per_step, rank, world, micro, plan.micro_batch, rt.device);
        monitor.before_forward(micro);
        torch::Tensor loss;
        if (grad_sync) grad_sync->begin_micro_step(micro + 1 == plan.accum_steps);  // only the last one communicates
        {
          AutocastScope autocast(rt.bf16_autocast);
          auto [sum, targets] = task->loss_sum(*model, batch);
          loss = sum / targets.clamp_min(1);
        }
        (loss / static_cast<double>(plan.accum_steps)).backward();
        loss_sum += loss.detach();
      }
      if (grad_sync) {
        // Waits for the bucket all-reduces (mostly done during backward): the gradients, and so the grad norm below
        // and every gradient instrument, are now the global ones, identical on all ranks. The mean loss is summed
        // over ranks too; a non-finite loss on any rank makes the sum non-finite on all of them, so every decision
        // taken from (loss, grad norm) -- skip, stop, divergence -- is the same on every rank.
        grad_sync->finish();
        dist.all_reduce_sum(loss_sum);
        loss_sum /= static_cast<double>(world);
      }
      monitor.after_backward();  // per-layer / per-group gradient norms (before clipping)
      torch::Tensor grad_norm = global_grad_norm(params);
      if (cfg.optim.clip) clip_gradients(params, grad_norm, *cfg.optim.clip);
      set_learning_rate(*optimizer, lr);
      if (monitor.allow_update(loss_sum, grad_norm)) {  // on_nonfinite: skip_step syncs here; otherwise no-op
        monitor.before_update();
        adamw_step(*optimizer, fused_adamw);
        monitor.after_update(*optimizer);
      }
      task->advance(plan.seqs_per_step);
      return {loss_sum / static_cast<double>(plan.accum_steps), grad_norm};
    };

    ProgressLine progress(cfg.train.steps, rt.peak ? rt.peak->bf16_flops : 0.0, flops_per_token);
    const int64_t tokens_per_step = plan.seqs_per_step * plan.seq_len;
    double last_train_loss = NAN, last_val_loss = NAN;
    int64_t step = start_step;
    auto window_start = Clock::now();
    int64_t window_steps = 0;

    model->train();
    if (start_step == 0 && cfg.eval.every > 0) {
      last_val_loss = evaluate(0);
      best_val_loss = std::min(best_val_loss, last_val_loss);
      window_start = Clock::now();
    }
    for (; step < cfg.train.steps; ++step) {
      const double lr = monitor.adjust_lr(step + 1, lr_at(cfg.schedule, cfg.optim.lr_peak, step, cfg.train.steps));
      monitor.begin_step(step + 1);
      maybe_inject_test_failure(rank, step + 1);  // SIGTRAIN_TEST_FAIL_RANK (tests only; trainer/distributed.h)
      auto [loss_t, norm_t] = train_step(lr);
      monitor.end_step(loss_t, norm_t, lr);
      tokens_seen += tokens_per_step;
      ++window_steps;
      const int64_t done = step + 1;
      const bool log_now = done % cfg.logging.every == 0 || done == cfg.train.steps || done == 1;  // step 1 always: a line right away
      if (log_now) {
        monitor.sync();  // the one host sync: loss, grad norm and every instrument pending since the last one
        const double loss = monitor.latest().loss, grad_norm = monitor.latest().grad_norm;
        const double secs = std::chrono::duration<double>(Clock::now() - window_start).count();
        const double tokens_per_s = secs > 0 ? window_steps * tokens_per_step / secs : 0.0;
        last_train_loss = loss;
        nlohmann::json record = {{"type", "train"},
                                 {"step", done},
                                 {"loss", loss},
                                 {"lr", lr},
                                 {"grad_norm", grad_norm},
                                 {"tokens_per_s", tokens_per_s},
                                 {"tokens_seen", tokens_seen}};
        monitor.add_scalars(record);
        metrics.write(record);
        if (rank == 0)
          log::progress(progress.format(done, loss, lr, grad_norm, tokens_per_s,
                                        secs / std::max<int64_t>(1, window_steps), monitor.latest().grad_norm_z));
        if (monitor.stop_requested()) {
          summary.status = "diverged";
          summary.diverged_step = monitor.diverged_step();
          summary.reason = monitor.reason();
          log::error(summary.reason + "; stopping at step " + std::to_string(done) +
                     " (the last good checkpoint is kept)");
          step = done;
          break;
        }
        window_start = Clock::now();
        window_steps = 0;
      }
      const bool eval_now = cfg.eval.every > 0 && (done % cfg.eval.every == 0 || done == cfg.train.steps);
      if (eval_now) {
        last_val_loss = evaluate(done);
        best_val_loss = std::min(best_val_loss, last_val_loss);
        window_start = Clock::now();  // evaluation time is not training throughput
        window_steps = 0;
      }
      if (cfg.checkpoint.every > 0 && done % cfg.checkpoint.every == 0 && done != cfg.train.steps)
        save_checkpoint(done);
    }
    if (summary.status != "diverged") {
      if (cfg.eval.every == 0) {
        last_val_loss = evaluate(step);
        best_val_loss = std::min(best_val_loss, last_val_loss);
      }
      if (cfg.checkpoint.save_final && step > start_step) save_checkpoint(step);
      summary.status = "completed";
      monitor.sync();
      if (monitor.diverged()) {  // detected but not stopped (monitor.divergence.stop: false)
        summary.status = "diverged";
        summary.diverged_step = monitor.diverged_step();
        summary.reason = monitor.reason();
      }
    }

    summary.last_step = step;
    summary.final_train_loss = last_train_loss;
    summary.final_val_loss = last_val_loss;
    summary.best_val_loss = best_val_loss;
    summary.tokens_seen = tokens_seen;
    summary.param_checksum = parameter_digest(*model);
    summary.wall_time_s = std::chrono::duration<double>(Clock::now() - wall_start).count();
    summary.tokens_per_s = progress.mean_tokens_per_s();
    summary_extra["device"] = rt.device_name;
    summary_extra["params"] = model->num_params(false);
    summary_extra["monitor"] = monitor.summary();
    summary_extra["world_size"] = world;
    {
      // Float-tolerant parameter summaries next to the bit-exact digest (1 rank vs N ranks agree to rounding).
      torch::NoGradGuard no_grad;
      double sum = 0, sq = 0;
      for (const auto& p : params) {
        auto p64 = p.detach().to(torch::kFloat64);
        sum += p64.sum().item<double>();
        sq += p64.square().sum().item<double>();
      }
      summary_extra["param_sum"] = sum;
      summary_extra["param_l2"] = std::sqrt(sq);
    }
    if (rank == 0) write_summary(summary_path, summary, summary_extra);
    log::info("done: " + summary.status + " at step " + std::to_string(step) + ", train loss " +
              format_fixed(last_train_loss, 4) + ", validation loss " + format_fixed(last_val_loss, 4) + " (" +
              format_fixed(summary.wall_time_s, 1) + " s)");
    return summary.status == "diverged" ? 3 : 0;
  } catch (const std::exception& e) {
    summary.status = "failed";
    summary.reason = e.what();
    summary.wall_time_s = std::chrono::duration<double>(Clock::now() - wall_start).count();
    if (rank == 0) write_summary(summary_path, summary, summary_extra);
    if (world > 1) log::error(std::string("rank ") + std::to_string(rank) + " failed: " + e.what());
    throw;
  }
}

}  // namespace sigtrain::trainer
