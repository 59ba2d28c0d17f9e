// The training loop. Read train_step() first: it is the whole optimizer step in order.
#include "trainer/loop/training_run.h"

#include <c10/cuda/CUDACachingAllocator.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "common/log.h"
#include "data/lm_sampler.h"
#include "models/gemm_algos.h"
#include "trainer/loop/micro_step_graph.h"
#include "trainer/loop/run_stream.h"
#include "trainer/loop/stop_signal.h"
#include "trainer/optim/grad_norm.h"
#include "trainer/optim/lr_schedule.h"
#include "trainer/optim/optimizer.h"

namespace sigtrain::trainer {
namespace fs = std::filesystem;

const std::vector<std::string> kLoopResumeMustMatch = {"model", "attention", "train.seed",
                                                       "train.global_batch_tokens", "train.micro_batch_size"};

TrainingRun::TrainingRun(RunConfig cfg, const Runtime& runtime, DistributedContext& dist, const std::string& run_dir,
                         const std::optional<std::string>& resume_dir)
    : cfg_(std::move(cfg)), rt_(runtime), dist_(dist), run_dir_(run_dir), rank_(dist.rank()),
      world_(dist.world_size()), hooks_(cfg_.test_hooks) {
  if (cfg_.train.threads > 0) torch::set_num_threads(static_cast<int>(cfg_.train.threads));
  if (cfg_.train.deterministic) {
    at::globalContext().setDeterministicAlgorithms(true, /*warn_only=*/true);
    // With deterministic algorithms on, LibTorch by default also fills every new uninitialised tensor with NaN (a
    // debugging aid: one extra memory pass per op output). Every op overwrites its output, so results do not
    // depend on it; it only costs time (docs/benchmarks.md, "Training speed"): off unless asked for.
    at::globalContext().setDeterministicFillUninitializedMemory(cfg_.train.fill_uninitialized_memory);
  }
  torch::manual_seed(cfg_.train.seed);
  plan_ = plan_batches(cfg_, world_);

  // Rank 0 prepares the data (e.g. tokenises and caches the corpus) before the other ranks open the cache.
  const TaskDefinition& definition = task_definition(cfg_.task);
  dist_.rank0_first([&] { task_ = definition.make(cfg_); });
  const models::FusedOps fused_ops = models::resolve_fused_ops(cfg_.fused_ops, rt_.device.is_cuda(), world_);
  gemm_algos_timed_ = fused_ops.gemm_algo_timed;
  models::use_timed_gemm_algos(gemm_algos_timed_);
  task_->set_fused_ops(fused_ops);
  log::info("data: " + task_->describe());
  if (rank_ == 0) task_->write_run_files(run_dir_);  // e.g. the single-cell gene vocabulary

  model_ = task_->build_model(cfg_.model, cfg_.attention);
  model_->to(rt_.device);
  model_->set_fused_ops(fused_ops);
  OptimizerGroups groups;
  const auto param_infos = model_->param_info();
  optimizer_ = make_adamw(param_infos, cfg_.optim, &groups);
  fused_adamw_ = use_fused_adamw(cfg_.optim, rt_.device);
  for (const auto& p : param_infos) params_.push_back(p.param);
  log::info("model: " + std::to_string(model_->num_params(false)) + " parameters (" +
            std::to_string(model_->num_params(true)) + " without embeddings), attention " +
            models::to_string(cfg_.attention.kind) + " via " + cfg_.attention.backend + "; AdamW decays " +
            std::to_string(groups.decayed_params) + " params, not " + std::to_string(groups.undecayed_params));
  log::info("device " + rt_.device_name + (rt_.bf16_autocast ? ", bf16 autocast" : ", fp32") + "; " +
            std::to_string(plan_.seqs_per_step) + " seqs x " + std::to_string(plan_.seq_len) +
            " tokens per step = micro-batch " + std::to_string(plan_.micro_batch) + " x " +
            std::to_string(plan_.accum_steps) + " accumulation step(s)");
  log::info(std::string("AdamW step: ") +
            (fused_adamw_ ? "fused multi-tensor (at::_fused_adamw_, one call per group)"
                          : "per-parameter (torch::optim::AdamW::step)") +
            " [optim.fused: " + cfg_.optim.fused + "]; cross-entropy: " +
            (fused_ops.cross_entropy ? "fused kernel" : "LibTorch (fp32 logits)") +
            (fused_ops.head_loss ? " (with a linear token head: one op with its GEMM)" : "") +
            "; norms: " + (fused_ops.norm ? "fused kernel" : "LibTorch") +
            (fused_ops.add_norm ? " with the residual add" : "") +
            (fused_ops.residual_bias ? " and the branches' output biases" : "") +
            "; GELU MLP: " +
            (!fused_ops.mlp            ? "LibTorch"
             : fused_ops.mlp_recompute ? "fused (cuBLASLt epilogues, GELU recomputed in the backward)"
                                       : "fused (cuBLASLt epilogues)") +
            "; qkv to attention: " + (fused_ops.packed_qkv ? "packed" : "split") +
            "; RoPE: " + (fused_ops.rope ? "fused kernel" : "LibTorch") +
            (fused_ops.mlp || fused_ops.linear
                 ? std::string("; cuBLASLt algorithms [fused_ops.gemm_algo: ") + cfg_.fused_ops.gemm_algo + "]: " +
                       (gemm_algos_timed_ ? "the fastest of 8 candidates, timed once per shape" : "heuristic")
                 : std::string()));
  // Data parallelism: gradients become views into flat buckets that are averaged over ranks during backward.
  if (world_ > 1) {
    grad_sync_ = std::make_unique<GradSync>(params_, dist_, cfg_.dist.bucket_mb, cfg_.dist.overlap);
    log::info(dist_.describe() + "; " + grad_sync_->describe());
  }
  // on: CUDA and one process, checked with the config (run_checks.cpp); auto: on exactly there.
  const std::string& graphs = cfg_.train.cuda_graphs;
  if (graphs == "on" || (graphs == "auto" && rt_.device.is_cuda() && world_ == 1)) {
    graph_ = std::make_unique<MicroStepGraph>(cfg_.train.cuda_graphs_max_shapes);
    log::info("train.cuda_graphs: " + graphs + ": after 3 eager micro-steps, each input shape seen twice is captured "
              "as a CUDA graph and replayed (at most " + std::to_string(cfg_.train.cuda_graphs_max_shapes) +
              " shapes; steps that collect attention statistics, or batches with host-side lengths, run eagerly)");
  } else if (graphs == "auto") {
    log::info(std::string("train.cuda_graphs: auto: off (") +
              (rt_.device.is_cuda() ? "a data-parallel run" : "not on a CUDA device") + ")");
  }

  if (resume_dir) {
    auto ck = load_checkpoint(*resume_dir, *model_, *optimizer_);
    state_.step = state_.start_step = ck.step;
    task_->restore(ck.state.at("data"));
    state_.tokens_seen = ck.state.value("tokens_seen", int64_t{0});
    // JSON has no infinity: a checkpoint saved before any evaluation stores best_val_loss as null.
    if (ck.state.contains("best_val_loss") && ck.state["best_val_loss"].is_number())
      state_.best_val_loss = ck.state["best_val_loss"].get<double>();
    log::info("resumed from " + *resume_dir + " at step " + std::to_string(state_.step));
    restore_gemm_algos(*resume_dir, ck.state);
    // Another world size continues the same run: the data position is one global counter, the optimizer state is
    // replicated, the global batch is unchanged; only the order of the gradient sum changes (float rounding).
    const int64_t saved_world = ck.state.value("world_size", int64_t{1});
    if (saved_world != world_)
      log::info("the checkpoint was written by " + std::to_string(saved_world) + " rank(s); continuing with " +
                std::to_string(world_) + " (same global batch, " + std::to_string(plan_.accum_steps) +
                " accumulation step(s) per rank)");
  }
  if (world_ > 1) {
    if (resume_dir)  // each rank read the checkpoint itself: it must be the same one on every rank
      dist_.check_same_on_all_ranks(
          "the checkpoint loaded (" + *resume_dir + "; is the run folder on a file system all nodes share?)",
          {state_.step, static_cast<int64_t>(std::stoull(parameter_digest(*model_), nullptr, 16))},
          {"step", "parameter_digest"});
    else
      grad_sync_->broadcast_parameters();  // rank 0's initialisation on every rank
    dist_.broadcast_cuda_rng();
  }
  // Only rank 0 keeps the run's records; the other ranks' writer goes nowhere.
  const int64_t resumed_at = resume_dir ? state_.step : -1;
  metrics_ = std::make_unique<MetricsWriter>(rank_ == 0 ? (fs::path(run_dir_) / "metrics.jsonl").string() : "/dev/null",
                                             rank_ == 0 ? resumed_at : -1);
  checkpoints_ = std::make_unique<CheckpointManager>((fs::path(run_dir_) / "checkpoints").string(),
                                                     cfg_.checkpoint.keep_last);
  // Stability instruments and policies (trainer/instruments/monitor.h); the one host sync per logged step is there.
  monitor_ = std::make_unique<Monitor>(cfg_.monitor, *model_,
                                       rank_ == 0 ? (fs::path(run_dir_) / "metrics.h5").string() : "", resumed_at);
  profiler_ = std::make_unique<StepProfiler>(cfg_.profile, rank_ == 0 ? run_dir_ : "", rt_.device.is_cuda());
  progress_ = std::make_unique<ProgressLine>(cfg_.train.steps, rt_.peak ? rt_.peak->bf16_flops : 0.0,
                                             model_->flops_per_token(plan_.seq_len));
  model_->train();
}

TrainingRun::~TrainingRun() = default;

// One optimizer step: accumulate gradients over micro-batches, measure the global grad norm (always), clip if
// configured, apply the scheduled lr, step AdamW, advance the data position.
StepResult TrainingRun::train_step() {
  const int64_t step = state_.step + 1;  // 1-based number of the step being taken
  StepResult result;
  result.lr = hooks_.lr(step, lr_at(cfg_.schedule, cfg_.optim.lr_peak, state_.step,
                                          schedule_steps(cfg_.schedule, cfg_.train.steps)));
  monitor_->begin_step(step);
  hooks_.at_step_start(rank_, step);

  if (grad_sync_)
    grad_sync_->zero_grad();  // keeps the gradients' bucket views
  else
    zero_gradients(*optimizer_, /*set_to_none=*/!graph_);  // a CUDA graph accumulates into the same gradient tensors
  torch::Tensor loss_sum = torch::zeros({}, torch::TensorOptions().device(rt_.device));
  std::optional<PhaseScope> phase;  // phases name the step's parts in a profile
  // One micro-step: forward, loss, backward (gradients accumulate over the step's micro-batches).
  const MicroStepGraph::Body micro_step = [&](const Batch& b) {
    torch::Tensor loss;
    phase.emplace("forward");
    {
      AutocastScope autocast(rt_.bf16_autocast);
      auto [sum, targets] = task_->loss_sum(*model_, b);
      loss = sum / targets.clamp_min(1);
    }
    phase.emplace("backward");
    (loss / static_cast<double>(plan_.accum_steps)).backward();
    return loss.detach();
  };
  for (int64_t micro = 0; micro < plan_.accum_steps; ++micro) {
    phase.emplace("data");
    Batch batch = task_->train_batch(plan_.seqs_per_step, rank_, world_, micro, plan_.micro_batch, rt_.device);
    monitor_->before_forward(micro);
    if (grad_sync_) grad_sync_->begin_micro_step(micro + 1 == plan_.accum_steps);  // only the last one communicates
    if (graph_) {
      phase.emplace("graph_replay");  // the eager body below renames it when it runs instead
      const bool graphable = !monitor_->collecting_attention() && !batch.host_lengths.defined();
      loss_sum += graph_->run(batch, micro_step, graphable);
    } else {
      loss_sum += micro_step(batch);
    }
  }
  phase.emplace("grad_sync");
  if (grad_sync_) {
    // Waits for the bucket all-reduces (mostly done during backward): the gradients, and so the grad norm below
    // and every gradient instrument, are now the global ones, identical on all ranks. The mean loss is summed
    // over ranks too; a non-finite loss on any rank makes the sum non-finite on all of them, so every decision
    // taken from (loss, grad norm) -- skip, stop, divergence -- is the same on every rank.
    grad_sync_->finish();
    dist_.all_reduce_sum(loss_sum);
    loss_sum /= static_cast<double>(world_);
  }
  hooks_.after_backward(step, params_);
  phase.emplace("grad_norm");
  monitor_->after_backward();  // per-layer / per-group gradient norms (before clipping)
  result.grad_norm = global_grad_norm(params_);
  std::optional<torch::Tensor> clip_by;  // the fused step divides the gradients in its own pass
  if (cfg_.optim.clip) {
    if (fused_adamw_)
      clip_by = clip_divisor(result.grad_norm, *cfg_.optim.clip);
    else
      clip_gradients(params_, result.grad_norm, *cfg_.optim.clip);
  }
  phase.emplace("optimizer");
  set_learning_rate(*optimizer_, result.lr);
  if (monitor_->allow_update(loss_sum, result.grad_norm)) {  // on_nonfinite: skip_step syncs here; else no-op
    monitor_->before_update();
    adamw_step(*optimizer_, fused_adamw_, clip_by);
    monitor_->after_update(*optimizer_);
  }
  phase.reset();
  task_->advance(plan_.seqs_per_step);
  result.loss = loss_sum / static_cast<double>(plan_.accum_steps);

  monitor_->end_step(result.loss, result.grad_norm, result.lr);
  state_.step = step;
  state_.tokens_seen += plan_.tokens_per_step();
  ++state_.window_steps;
  return result;
}

void TrainingRun::log_step(const StepResult& step) {
  monitor_->sync();  // the one host sync: loss, grad norm and every instrument pending since the last one
  const double loss = monitor_->latest().loss, grad_norm = monitor_->latest().grad_norm;
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - state_.window_start).count();
  const double tokens_per_s = secs > 0 ? state_.window_steps * plan_.tokens_per_step() / secs : 0.0;
  state_.last_train_loss = loss;
  nlohmann::json record = {{"type", "train"},       {"step", state_.step},
                           {"loss", loss},          {"lr", step.lr},
                           {"grad_norm", grad_norm}, {"tokens_per_s", tokens_per_s},
                           {"tokens_seen", state_.tokens_seen}};
  if (rt_.device.is_cuda()) {  // the caching allocator's high-water mark since the start (what PyTorch reports)
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(rt_.device.index() < 0 ? 0 : rt_.device.index());
    record["gpu_mem_peak_gib"] =
        static_cast<double>(stats.allocated_bytes[static_cast<size_t>(c10::CachingAllocator::StatType::AGGREGATE)].peak) /
        (1024.0 * 1024.0 * 1024.0);
  }
  monitor_->add_scalars(record);
  metrics_->write(record);
  if (rank_ == 0)
    log::progress(progress_->format(state_.step, loss, step.lr, grad_norm, tokens_per_s,
                                    secs / std::max<int64_t>(1, state_.window_steps), monitor_->latest().grad_norm_z));
  state_.restart_window();
}

nlohmann::json TrainingRun::evaluate() {
  torch::NoGradGuard no_grad;
  model_->eval();
  AutocastScope autocast(rt_.bf16_autocast);
  auto f64 = torch::TensorOptions().device(rt_.device).dtype(torch::kFloat64);
  torch::Tensor loss_sum = torch::zeros({}, f64), count = torch::zeros({}, f64);
  torch::Tensor extra = torch::zeros({task_->eval_extra_size()}, f64);  // the task's own counts
  // Each rank evaluates its contiguous slice of the fixed set; sums and counts are added over ranks.
  const data::RankSlice mine = data::rank_slice(task_->val_size(), rank_, world_);
  for (int64_t first = mine.offset; first < mine.offset + mine.count; first += cfg_.eval.batch_size) {
    const int64_t n = std::min(cfg_.eval.batch_size, mine.offset + mine.count - first);
    EvalSums sums = task_->eval_sums(*model_, task_->val_batch(first, n, rt_.device));
    loss_sum += sums.loss_sum.to(torch::kFloat64);
    count += sums.count.to(torch::kFloat64);
    if (sums.extra.defined()) extra += sums.extra.to(torch::kFloat64);
  }
  if (world_ > 1) {
    torch::Tensor all = torch::cat({loss_sum.reshape({1}), count.reshape({1}), extra});
    dist_.all_reduce_sum(all);
    loss_sum = all[0];
    count = all[1];
    extra = all.narrow(0, 2, extra.size(0));
  }
  const double val_loss = (loss_sum / count).item<double>();
  nlohmann::json record = {{"type", "eval"}, {"step", state_.step}, {"val_loss", val_loss}};
  if (extra.size(0) > 0) record.update(task_->eval_record(extra.cpu(), count.item<double>()));
  record.update(task_->evaluate_extra(*model_, rt_.device));
  metrics_->write(record);
  std::vector<std::pair<std::string, double>> series = {{"val_loss", val_loss}};
  for (const auto& m : task_definition(cfg_.task).report_metrics)
    series.emplace_back(m.key, record.contains(m.key) && record[m.key].is_number() ? record[m.key].get<double>() : NAN);
  monitor_->record_evaluation(state_.step, series);
  log::info("step " + std::to_string(state_.step) + ": " + record.dump());
  model_->train();
  state_.last_val_loss = val_loss;
  state_.best_val_loss = std::min(state_.best_val_loss, val_loss);
  state_.restart_window();  // evaluation time is not training throughput
  return record;
}

void TrainingRun::save_checkpoint() {
  monitor_->sync();  // a detected divergence never overwrites the last good checkpoint
  if (monitor_->diverged()) {
    log::warn("not saving a checkpoint at step " + std::to_string(state_.step) + ": the run diverged at step " +
              std::to_string(monitor_->diverged_step()));
    return;
  }
  nlohmann::json state = {{"data", task_->state()},
                          {"tokens_seen", state_.tokens_seen},
                          {"best_val_loss", state_.best_val_loss},
                          {"world_size", world_}};
  if (gemm_algos_timed_) state["gemm_algos"] = models::gemm_algo_record();
  // Rank 0 writes everything (parameters and optimizer state are replicated, the data position is global); every
  // rank passes a barrier before the DONE marker, so DONE means all ranks completed this step.
  if (rank_ != 0) {
    dist_.barrier();
    return;
  }
  const std::string where = checkpoints_->save(state_.step, *model_, *optimizer_, state, cfg_.resolved_yaml,
                                               [&] { dist_.barrier(); });
  log::info("checkpoint " + where);
}

void TrainingRun::restore_gemm_algos(const std::string& checkpoint_dir, const nlohmann::json& state) {
  if (!state.contains("gemm_algos") || !rt_.device.is_cuda()) return;
  const auto& record = state["gemm_algos"];
  if (!record.is_string())
    throw CheckpointError(checkpoint_dir + "/state.json: gemm_algos: expected the text of a GEMM algorithm record");
  try {
    if (models::restore_gemm_algo_record(record.get<std::string>()))
      log::info("cuBLASLt algorithms: the checkpoint's choices restored (the resumed run computes with them)");
    else
      log::warn("cuBLASLt algorithms: the checkpoint's choices were made with another cuBLASLt or GPU; choosing "
                "afresh (results can differ from an uninterrupted run in the last bits)");
  } catch (const std::invalid_argument& e) {
    throw CheckpointError(checkpoint_dir + "/state.json: gemm_algos: " + e.what());
  }
}

int TrainingRun::stop_signal_after(int64_t done) {
  if (world_ == 1) return StopSignals::received();
  // Every rank must stop after the same step (the checkpoint is a collective): the ranks compare their flags at the
  // logged steps, where the step already syncs with the host.
  if (done % cfg_.logging.every != 0) return 0;
  int sig = 0;
  for (const auto& flags : dist_.all_gather(std::vector<int64_t>{StopSignals::received()}))
    if (flags[0] != 0) sig = static_cast<int>(flags[0]);
  return sig;
}

void TrainingRun::stop_for_signal(int sig, RunSummary& summary) {
  const int64_t done = state_.step;
  if (!due(cfg_.checkpoint.every)) save_checkpoint();  // (a step that just saved one keeps it)
  summary.status = "interrupted";
  summary.stop_signal = sig;
  summary.reason = std::string("stopped by ") + stop_signal_name(sig) + " after step " + std::to_string(done);
  if (monitor_->diverged())  // save_checkpoint() kept the last good checkpoint instead
    summary.reason += " without a checkpoint of that step (the run diverged at step " +
                      std::to_string(monitor_->diverged_step()) + ")";
  else
    summary.reason += ", with a checkpoint of that step; `sigtrain train --resume " + run_dir_ + "` continues it";
  log::warn(summary.reason);
}

void TrainingRun::mark_diverged(RunSummary& summary) const {
  summary.status = "diverged";
  summary.diverged_step = monitor_->diverged_step();
  summary.reason = monitor_->reason();
}

void TrainingRun::run(RunSummary& summary) {
  // With CUDA graphs, the whole loop (eager micro-steps, captures, replays, optimizer, evaluation, checkpoints) on
  // one stream of its own, so that LibTorch keeps one set of cuBLAS workspaces (run_stream.h).
  std::optional<RunStream> own_stream;
  if (graph_) own_stream.emplace();
  const int64_t steps = cfg_.train.steps;
  if (state_.step == 0 && cfg_.eval.every > 0) evaluate();
  while (state_.step < steps) {
    profiler_->before_step(state_.step + 1);
    const StepResult step = train_step();
    const int64_t done = state_.step;
    profiler_->after_step(done);
    if (done % cfg_.logging.every == 0 || done == steps || done == 1) {  // step 1 always: a line right away
      log_step(step);
      if (monitor_->stop_requested()) {
        mark_diverged(summary);
        log::error(summary.reason + "; stopping at step " + std::to_string(done) +
                   " (the last good checkpoint is kept)");
        break;
      }
    }
    if (cfg_.eval.every > 0 && (due(cfg_.eval.every) || done == steps)) evaluate();
    if (due(cfg_.checkpoint.every) && done != steps) save_checkpoint();
    if (const int sig = stop_signal_after(done); sig != 0 && done != steps) {
      stop_for_signal(sig, summary);
      break;
    }
  }
  if (summary.status == "running") {
    if (cfg_.eval.every == 0) evaluate();
    if (cfg_.checkpoint.save_final && state_.step > state_.start_step) save_checkpoint();
    summary.status = "completed";
    monitor_->sync();
    if (monitor_->diverged()) mark_diverged(summary);  // detected but not stopped (monitor.divergence.stop: false)
  }
  summary.last_step = state_.step;
  summary.final_train_loss = state_.last_train_loss;
  summary.final_val_loss = state_.last_val_loss;
  if (std::isfinite(state_.best_val_loss)) summary.best_val_loss = state_.best_val_loss;
  summary.tokens_seen = state_.tokens_seen;
  summary.param_checksum = parameter_digest(*model_);
  summary.tokens_per_s = progress_->mean_tokens_per_s();
}

nlohmann::json TrainingRun::report_metrics() const {
  nlohmann::json metrics = nlohmann::json::array();
  for (const auto& m : task_definition(cfg_.task).report_metrics)
    metrics.push_back({{"key", m.key}, {"label", m.label}, {"higher_is_better", m.higher_is_better}});
  return metrics;
}

nlohmann::json TrainingRun::summary_extra() const {
  // Float-tolerant parameter summaries next to the bit-exact digest (1 rank vs N ranks agree to rounding).
  const models::ParamSummary params = model_->parameter_summary();
  return {{"device", rt_.device_name},      {"params", model_->num_params(false)},
          {"monitor", monitor_->summary()}, {"world_size", world_},
          {"param_sum", params.sum},        {"param_l2", params.l2},
          {"task", cfg_.task},              {"report_metrics", report_metrics()},
          {"eval", task_->summary()}};
}

}  // namespace sigtrain::trainer
