#include "trainer/tasks/speech_task.h"

#include <torch/torch.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <exception>
#include <filesystem>
#include <mutex>
#include <numeric>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "common/atomic_file.h"
#include "common/log.h"
#include "data/speech/asr_metrics.h"
#include "data/speech/ctc_beam.h"
#include "data/speech/ctc_greedy.h"
#include "models/asr_encoder.h"
#include "trainer/loop/run_config.h"

namespace sigtrain::trainer {

namespace fs = std::filesystem;
using models::SpeechModelConfig;

namespace {

int64_t frames_of(const speech::SpeechDataConfig& d, double seconds) {
  const speech::FrameGeometry g = speech::resolve_frames(d.pipeline.features);
  return g.frame_count(
      static_cast<int64_t>(std::llround(seconds * static_cast<double>(d.pipeline.features.sample_rate_hz))));
}

double seconds(const speech::Corpus& corpus) {
  double s = 0;
  for (const auto& u : corpus) s += u.duration_s;
  return s;
}

std::string fixed(double x, int digits) {
  std::ostringstream os;
  os.setf(std::ios::fixed);
  os.precision(digits);
  os << x;
  return os.str();
}

// "11.3 s", "40.2 min", "6.70 h": audio durations for the log.
std::string duration_text(double s) {
  if (s < 120) return fixed(s, 1) + " s";
  if (s < 7200) return fixed(s / 60, 1) + " min";
  return fixed(s / 3600, 2) + " h";
}

const char* normalisation_name(speech::NormalizationMode m) {
  switch (m) {
    case speech::NormalizationMode::kNone: return "none";
    case speech::NormalizationMode::kUtterance: return "utterance";
    case speech::NormalizationMode::kGlobal: return "global";
  }
  return "?";
}

// Runs f(i) for i in [0, n) on up to `threads` threads; the first exception is re-thrown.
template <class F>
void parallel_for(int64_t n, int64_t threads, F f) {
  const int64_t t = std::max<int64_t>(1, std::min(threads, n));
  if (t == 1) {
    for (int64_t i = 0; i < n; ++i) f(i);
    return;
  }
  std::atomic<int64_t> next{0};
  std::exception_ptr error;
  std::mutex error_mutex;
  std::vector<std::thread> pool;
  for (int64_t k = 0; k < t; ++k)
    pool.emplace_back([&] {
      for (int64_t i; (i = next.fetch_add(1)) < n;) {
        try {
          f(i);
        } catch (...) {
          std::lock_guard<std::mutex> lock(error_mutex);
          if (!error) error = std::current_exception();
        }
      }
    });
  for (auto& th : pool) th.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace

TaskDefinition speech_task_definition() {
  TaskDefinition d;
  d.name = "speech";
  d.description = "speech recognition with CTC (model.arch: asr)";
  d.claims = [](const config::ConfigTree&, const models::ModelConfig& m) { return m.arch == models::Arch::kAsr; };
  d.parse = [](config::ConfigTree& tree, const models::ModelConfig& model) -> std::shared_ptr<const TaskConfig> {
    if (model.arch != models::Arch::kAsr)
      throw config::ConfigError("model.arch: the speech task trains the speech encoder; set arch: asr");
    auto c = std::make_shared<SpeechTaskConfig>();
    config::SectionReader data(tree, "data");
    c->data = speech::parse_speech_data_config(data);
    const speech::SpeechDataConfig& s = c->data;
    if (s.val_path.empty())
      data.fail("val_path", "required: the speech task evaluates (loss, WER, CER) on held-out utterances");
    if (s.max_utterances_per_batch != 0)
      data.fail("max_utterances_per_batch", "a training run batches at most train.micro_batch_size utterances per "
                                            "micro-batch; remove this key");
    if (s.max_duration_s <= 0)
      data.fail("max_duration_s", "required (> 0): it bounds the training utterances and sets the loop's sequence "
                                  "length (its encoder positions)");
    c->max_positions = SpeechModelConfig::positions(frames_of(s, s.max_duration_s));
    if (c->max_positions < 1)
      data.fail("max_duration_s", std::to_string(s.max_duration_s) + " s gives no encoder position after the 4x "
                                  "subsampling (7 feature frames are the least)");
    if (model.speech.n_mels > 0 && model.speech.n_mels != s.pipeline.features.n_mels)
      throw config::ConfigError("model.speech.n_mels: " + std::to_string(model.speech.n_mels) +
                                " does not match data.features.n_mels " + std::to_string(s.pipeline.features.n_mels) +
                                " (set it to 0 to take it from the data)");
    const bool table = model.positions == models::PositionKind::kRope ||
                       model.positions == models::PositionKind::kLearned;
    if (table && c->max_positions > model.max_seq_len)
      throw config::ConfigError("model.max_seq_len: " + std::to_string(model.max_seq_len) + " positions, but a " +
                                "data.max_duration_s utterance has " + std::to_string(c->max_positions) +
                                " after subsampling (positions: " + models::to_string(model.positions) + ")");
    config::SectionReader ctc(tree, "ctc");
    c->examples = ctc.get_int("examples", c->examples, 0, 1000);
    c->beam = ctc.get_enum("decode", "greedy", {"greedy", "beam"}) == "beam";
    // Checked with greedy decoding too (unused then), so `--set ctc.decode=greedy` works on a config that sets them.
    c->beam_options.beam_width = ctc.get_int("beam_width", c->beam_options.beam_width, 1, 4096);
    c->beam_options.prune_nats = ctc.get_double("beam_prune", c->beam_options.prune_nats, 0.0, 1e6);
    return c;
  };
  d.check_inputs = [](const RunConfig& cfg) {
    const auto& data = cfg.task_as<SpeechTaskConfig>().data;
    require_path("data.path", data.path, /*folder=*/false, "scripts/speech/build_corpus.sh builds the corpora");
    require_path("data.val_path", data.val_path, /*folder=*/false);
  };
  d.make = [](const RunConfig& cfg) -> std::unique_ptr<Task> {
    return std::make_unique<SpeechTask>(cfg.task_as<SpeechTaskConfig>(), cfg.train.seed, cfg.train.micro_batch_size);
  };
  d.resume_must_match = {"data"};
  d.report_metrics = {{"wer", "WER", false}, {"cer", "CER", false}};
  return d;
}

SpeechTask::SpeechTask(const SpeechTaskConfig& cfg, uint64_t seed, int64_t micro_batch)
    : cfg_(cfg), seed_(seed), micro_batch_(std::max<int64_t>(1, micro_batch)) {
  const speech::SpeechDataConfig& d = cfg_.data;
  speech::Corpus train = speech::read_speech_corpus(d, /*validation=*/false);
  speech::Corpus val = speech::read_speech_corpus(d, /*validation=*/true);
  if (train.empty())
    throw config::ConfigError("data.path: " + d.path + " has no training utterances of at most data.max_duration_s = " +
                              std::to_string(d.max_duration_s) + " s");
  if (val.empty()) throw config::ConfigError("data.val_path: " + d.val_path + " has no utterances");
  const std::shared_ptr<const speech::CtcVocab> vocab = speech::make_vocab(d, train);
  speech::SpeechPipelineOptions options = d.pipeline;
  options.seed = seed_;  // SpecAugment masks from the run seed

  if (options.normalization == speech::NormalizationMode::kGlobal) {
    if (!d.stats_path.empty()) {
      stats_ = speech::FeatureStats::load(d.stats_path);
    } else {  // over un-normalised training features, evenly spaced utterances (deterministic: resume recomputes)
      speech::SpeechPipelineOptions raw = options;
      raw.normalization = speech::NormalizationMode::kNone;
      stats_ = speech::compute_feature_stats(speech::SpeechDataset(train, vocab, raw), d.stats_max_utterances);
    }
  }
  train_ = std::make_unique<speech::SpeechDataset>(std::move(train), vocab, options, stats_);
  val_ = std::make_unique<speech::SpeechDataset>(std::move(val), vocab, options, stats_);

  speech::DurationBucketOptions plan = speech::bucket_options(d, seed_, /*shuffle=*/true);
  plan.max_utterances_per_batch = micro_batch_;
  const std::vector<int64_t> frames = train_->planned_frames();
  batcher_ = std::make_unique<speech::DurationBatcher>(train_->ids(), frames, plan);
  train_feature_bytes_ = std::accumulate(frames.begin(), frames.end(), int64_t{0}) * d.pipeline.features.n_mels *
                         static_cast<int64_t>(sizeof(float));
  train_->enable_feature_cache(d.feature_cache_mb * (int64_t{1} << 20));

  int64_t positions = 0;
  for (int64_t u = 0; u < train_->size(); ++u) {
    const int64_t p = SpeechModelConfig::positions(frames[static_cast<size_t>(u)]);
    positions += p;
    const std::vector<int32_t>& t = train_->targets(u);
    const std::vector<int64_t> ids(t.begin(), t.end());
    if (!models::ctc_feasible(ids.data(), static_cast<int64_t>(ids.size()), p)) ++unalignable_;
  }
  const double slots = static_cast<double>(batcher_->batches_per_epoch()) * static_cast<double>(micro_batch_) *
                       static_cast<double>(cfg_.max_positions);
  slot_fill_ = slots > 0 ? static_cast<double>(positions) / slots : 0.0;

  const std::vector<int64_t> val_frames = val_->planned_frames();
  val_order_.resize(static_cast<size_t>(val_->size()));
  std::iota(val_order_.begin(), val_order_.end(), int64_t{0});
  std::stable_sort(val_order_.begin(), val_order_.end(), [&](int64_t a, int64_t b) {
    return val_frames[static_cast<size_t>(a)] < val_frames[static_cast<size_t>(b)];
  });
  const int64_t val_floats = std::accumulate(val_frames.begin(), val_frames.end(), int64_t{0}) *
                             d.pipeline.features.n_mels;
  cache_val_ = val_floats <= kCacheFloats;
  if (cache_val_) val_cache_.resize(static_cast<size_t>(val_->size()));
}

SpeechTask::~SpeechTask() = default;  // the loader's threads stop before the datasets go

std::string SpeechTask::describe() const {
  const speech::SpeechDataConfig& d = cfg_.data;
  std::ostringstream os;
  os << "CTC on " << d.path << " (" << d.format << "): " << train_->size() << " training utterances ("
     << duration_text(seconds(train_->corpus())) << ", each at most " << d.max_duration_s << " s), " << val_->size()
     << " validation (" << duration_text(seconds(val_->corpus())) << ") from " << d.val_path << "; vocabulary "
     << vocab_size() << " symbols (" << train_->vocab().kind() << "); decoding "
     << (cfg_.beam ? "beam search, width " + std::to_string(cfg_.beam_options.beam_width) : std::string("greedy"))
     << "; " << batcher_->summary() << "; " << cfg_.max_positions
     << " positions per slot, slot fill " << fixed(100.0 * slot_fill_, 1) << " %";
  if (const speech::FeatureCache* cache = train_->feature_cache())
    os << "; feature cache " << d.feature_cache_mb << " MB for " << fixed(train_feature_bytes_ / 1048576.0, 0)
       << " MB of training features"
       << (train_feature_bytes_ <= cache->budget_bytes() ? " (all kept after the first epoch)" : " (only part fits)");
  if (unalignable_ > 0)
    os << "; " << unalignable_ << " training utterances have fewer encoder positions than labels and score 0";
  const std::string unknown = train_->unknown_chars().str();
  if (!unknown.empty()) os << "; training transcripts: " << unknown;
  return os.str();
}

std::shared_ptr<models::Model> SpeechTask::build_model(models::ModelConfig model,
                                                       const models::AttentionConfig& attention) const {
  if (model.speech.n_mels == 0) model.speech.n_mels = cfg_.data.pipeline.features.n_mels;
  // RoPE's and learned positions' tables end at max_seq_len: say so before training, not at the first evaluation.
  if (model.positions == models::PositionKind::kRope || model.positions == models::PositionKind::kLearned) {
    const std::vector<int64_t> frames = val_->planned_frames();
    const auto longest = std::max_element(frames.begin(), frames.end());
    const int64_t positions = SpeechModelConfig::positions(*longest);
    if (positions > model.max_seq_len) {
      const speech::Utterance& u = val_->corpus()[static_cast<size_t>(longest - frames.begin())];
      throw config::ConfigError("model.max_seq_len: " + std::to_string(model.max_seq_len) + " positions, but " +
                                "validation utterance '" + u.id + "' (" + u.source + ", " + fixed(u.duration_s, 1) +
                                " s) has " + std::to_string(positions) + " after subsampling");
    }
  }
  return Task::build_model(model, attention);  // model.vocab_size from the vocabulary when 0
}

Batch SpeechTask::to_batch(const speech::SpeechBatch& b, const torch::Device& device) {
  const int64_t B = b.batch_size;
  Batch batch;
  batch.inputs.features = upload(
      torch::from_blob(const_cast<float*>(b.features.data()), {B, b.max_frames, b.n_mels}, torch::kFloat32), device);
  batch.host_lengths = torch::zeros({kHostRows, B}, torch::kInt64);
  auto rows = batch.host_lengths.accessor<int64_t, 2>();
  int64_t offset = 0;
  for (int64_t i = 0; i < B; ++i) {
    const int64_t p = SpeechModelConfig::positions(b.frame_lengths[static_cast<size_t>(i)]);
    const int64_t n = b.target_lengths[static_cast<size_t>(i)];
    const std::vector<int64_t> ids(b.targets.begin() + offset, b.targets.begin() + offset + n);
    rows[kPositionsRow][i] = p;
    rows[kTargetLengthsRow][i] = n;
    rows[kScoredTargetsRow][i] = models::ctc_feasible(ids.data(), n, p) ? n : 0;
    offset += n;
  }
  batch.inputs.lengths = upload(batch.host_lengths[kPositionsRow], device);
  batch.targets = upload(
      torch::from_blob(const_cast<int32_t*>(b.targets.data()), {static_cast<int64_t>(b.targets.size())}, torch::kInt32),
      device, torch::kInt64);
  return batch;
}

Batch SpeechTask::train_batch(int64_t seqs_per_step, int rank, int world, int64_t micro, int64_t micro_batch,
                              const torch::Device& device) {
  (void)seqs_per_step;
  if (micro_batch != micro_batch_)
    throw std::logic_error("SpeechTask: micro-batch of " + std::to_string(micro_batch) +
                           " utterance slots, constructed for " + std::to_string(micro_batch_));
  // The loader hands out this rank's batches in stream order; the loop must ask for them in the same order.
  if (micro != micro_in_step_)
    throw std::logic_error("SpeechTask: the loop asked for micro-batch " + std::to_string(micro) +
                           ", the loader is at " + std::to_string(micro_in_step_));
  if (!loader_) {
    speech::LoaderOptions o;
    o.workers = static_cast<int>(cfg_.data.workers);
    o.prefetch = static_cast<int>(cfg_.data.prefetch);
    o.rank = rank;
    o.world = world;
    o.augment = cfg_.data.pipeline.spec_augment.enabled;
    loader_ = std::make_unique<speech::PrefetchLoader>(*train_, *batcher_, o);
  }
  ++micro_in_step_;
  return to_batch(loader_->next(), device);
}

void SpeechTask::advance(int64_t) {
  // The loader's position is global (start + batches taken × world): it moves with every micro-batch taken.
  micro_in_step_ = 0;
}

Batch SpeechTask::val_batch(int64_t first, int64_t count, const torch::Device& device) {
  std::vector<int64_t> utterances(val_order_.begin() + first, val_order_.begin() + first + count);
  std::vector<speech::UtteranceFeatures> features(utterances.size());
  parallel_for(count, std::max<int64_t>(1, cfg_.data.workers), [&](int64_t i) {
    const int64_t u = utterances[static_cast<size_t>(i)];
    if (cache_val_ && !val_cache_[static_cast<size_t>(u)].features.empty()) {
      features[static_cast<size_t>(i)] = val_cache_[static_cast<size_t>(u)];
      return;
    }
    features[static_cast<size_t>(i)] = val_->featurize(u, /*epoch=*/0, /*augment=*/false);
    if (cache_val_) val_cache_[static_cast<size_t>(u)] = features[static_cast<size_t>(i)];  // one slot per thread
  });
  return to_batch(speech::collate(*val_, utterances, features), device);
}

std::pair<torch::Tensor, torch::Tensor> SpeechTask::loss_sum(models::Model& model, const Batch& batch) {
  const torch::Tensor logits = model.forward(batch.inputs);
  const int64_t B = batch.host_lengths.size(1);
  const int64_t* rows = batch.host_lengths.data_ptr<int64_t>();
  torch::Tensor sum = models::ctc_loss_sum(logits, {rows + kPositionsRow * B, static_cast<size_t>(B)}, batch.targets,
                                           {rows + kTargetLengthsRow * B, static_cast<size_t>(B)});
  const int64_t scored = batch.host_lengths[kScoredTargetsRow].sum().item<int64_t>();  // host tensor: no sync
  return {sum, torch::full({}, static_cast<double>(scored), sum.options())};
}

DecodeScore SpeechTask::score_greedy(const torch::Tensor& logits, const Batch& batch, const speech::CtcVocab& vocab) {
  const torch::Tensor best = logits.argmax(-1).to(torch::kCPU, torch::kInt32).contiguous();  // [B, T']
  const torch::Tensor targets = batch.targets.to(torch::kCPU, torch::kInt32).contiguous();
  const int64_t B = best.size(0), T = best.size(1);
  auto rows = batch.host_lengths.accessor<int64_t, 2>();
  DecodeScore s;
  int64_t offset = 0;
  for (int64_t i = 0; i < B; ++i) {
    const int32_t* frame = best.data_ptr<int32_t>() + i * T;
    const int64_t p = std::min(T, rows[kPositionsRow][i]), n = rows[kTargetLengthsRow][i];
    const int32_t* ref = targets.data_ptr<int32_t>() + offset;
    offset += n;
    s.pairs.emplace_back(vocab.decode(std::vector<int32_t>(ref, ref + n)),
                         speech::ctc_greedy_text(std::vector<int32_t>(frame, frame + p), vocab));
  }
  const speech::ErrorRates rates = speech::error_rates(s.pairs);
  s.counts = {static_cast<double>(rates.words.errors()), static_cast<double>(rates.words.reference_length),
              static_cast<double>(rates.chars.errors()), static_cast<double>(rates.chars.reference_length),
              static_cast<double>(rates.utterances)};
  return s;
}

DecodeScore SpeechTask::score_beam(const torch::Tensor& logits, const Batch& batch, const speech::CtcVocab& vocab,
                                   const speech::CtcBeamOptions& options, int64_t threads) {
  const torch::Tensor log_probs =
      torch::log_softmax(logits.to(torch::kFloat32), -1).to(torch::kCPU).contiguous();  // [B, T', V]
  const torch::Tensor targets = batch.targets.to(torch::kCPU, torch::kInt32).contiguous();
  const int64_t B = log_probs.size(0), T = log_probs.size(1), V = log_probs.size(2);
  auto rows = batch.host_lengths.accessor<int64_t, 2>();
  // The search per utterance on `threads` threads; the text (SentencePiece's decoder included) on this one.
  std::vector<std::vector<int32_t>> beam(static_cast<size_t>(B)), greedy(static_cast<size_t>(B));
  parallel_for(B, std::max<int64_t>(1, threads), [&](int64_t i) {
    const float* lp = log_probs.data_ptr<float>() + i * T * V;
    const int64_t p = std::min(T, rows[kPositionsRow][i]);
    beam[static_cast<size_t>(i)] = speech::ctc_beam_search(lp, p, V, options).front().labels;
    greedy[static_cast<size_t>(i)] = speech::ctc_collapse(speech::argmax_ids(lp, p, V), speech::CtcVocab::kBlank);
  });
  DecodeScore s;
  std::vector<std::pair<std::string, std::string>> greedy_pairs;
  int64_t offset = 0;
  for (int64_t i = 0; i < B; ++i) {
    const int64_t n = rows[kTargetLengthsRow][i];
    const int32_t* ref = targets.data_ptr<int32_t>() + offset;
    offset += n;
    const std::string reference = vocab.decode(std::vector<int32_t>(ref, ref + n));
    s.pairs.emplace_back(reference, vocab.decode(beam[static_cast<size_t>(i)]));
    greedy_pairs.emplace_back(reference, vocab.decode(greedy[static_cast<size_t>(i)]));
  }
  const speech::ErrorRates rates = speech::error_rates(s.pairs);
  const speech::ErrorRates greedy_rates = speech::error_rates(greedy_pairs);
  s.counts = {static_cast<double>(rates.words.errors()),        static_cast<double>(rates.words.reference_length),
              static_cast<double>(rates.chars.errors()),        static_cast<double>(rates.chars.reference_length),
              static_cast<double>(rates.utterances),            static_cast<double>(greedy_rates.words.errors()),
              static_cast<double>(greedy_rates.chars.errors())};
  return s;
}

EvalSums SpeechTask::eval_sums(models::Model& model, const Batch& batch) {
  const torch::Tensor logits = model.forward(batch.inputs);
  const int64_t B = batch.host_lengths.size(1);
  const int64_t* rows = batch.host_lengths.data_ptr<int64_t>();
  EvalSums e;
  e.loss_sum = models::ctc_loss_sum(logits, {rows + kPositionsRow * B, static_cast<size_t>(B)}, batch.targets,
                                    {rows + kTargetLengthsRow * B, static_cast<size_t>(B)});
  e.count = torch::full({}, static_cast<double>(batch.host_lengths[kScoredTargetsRow].sum().item<int64_t>()),
                        e.loss_sum.options());
  DecodeScore s = cfg_.beam ? score_beam(logits, batch, train_->vocab(), cfg_.beam_options, cfg_.data.workers)
                            : score_greedy(logits, batch, train_->vocab());
  for (auto& pair : s.pairs)
    if (static_cast<int64_t>(examples_.size()) < cfg_.examples) examples_.push_back(std::move(pair));
  e.extra = torch::tensor(s.counts, torch::kFloat64).to(logits.device());
  return e;
}

nlohmann::json SpeechTask::eval_record(const torch::Tensor& extra_total, double count_total) {
  const torch::Tensor v = extra_total.to(torch::kCPU, torch::kFloat64).contiguous();
  const double* x = v.data_ptr<double>();
  auto rate = [](double errors, double length) {
    return length > 0 ? nlohmann::json(errors / length) : nlohmann::json(nullptr);
  };
  nlohmann::json examples = nlohmann::json::array();
  for (const auto& [ref, hyp] : examples_) {
    examples.push_back({{"ref", ref}, {"hyp", hyp}});
    log::info("  ref: " + ref);
    log::info("  hyp: " + hyp);
  }
  examples_.clear();
  nlohmann::json record = {{"wer", rate(x[0], x[1])},      {"cer", rate(x[2], x[3])},
                           {"word_errors", x[0]},          {"words", x[1]},
                           {"char_errors", x[2]},          {"chars", x[3]},
                           {"eval_utterances", x[4]},      {"scored_chars", count_total},
                           {"decode", cfg_.beam ? "beam" : "greedy"}, {"examples", examples}};
  if (cfg_.beam) {
    record["beam_width"] = cfg_.beam_options.beam_width;
    record["greedy_wer"] = rate(x[5], x[1]);
    record["greedy_cer"] = rate(x[6], x[3]);
  }
  last_eval_ = record;
  return record;
}

nlohmann::json SpeechTask::corpus_info() const {
  const speech::SpeechDataConfig& d = cfg_.data;
  return {{"format", d.format},
          {"path", d.path},
          {"val_path", d.val_path},
          {"train_utterances", train_->size()},
          {"train_hours", seconds(train_->corpus()) / 3600.0},
          {"val_utterances", val_->size()},
          {"val_hours", seconds(val_->corpus()) / 3600.0},
          {"max_duration_s", d.max_duration_s},
          {"positions_per_slot", cfg_.max_positions},
          {"micro_batch_utterances", micro_batch_},
          {"batches_per_epoch", batcher_->batches_per_epoch()},
          {"padding_fraction", batcher_->padding_fraction()},
          {"slot_fill", slot_fill_},
          {"oversized_batches", batcher_->oversized()},
          {"unalignable_train_utterances", unalignable_},
          {"unknown_chars_train", train_->unknown_chars().str()},
          {"unknown_chars_val", val_->unknown_chars().str()},
          {"vocab_size", vocab_size()},
          {"vocab_kind", train_->vocab().kind()},
          {"vocab_identity", train_->vocab().identity()},
          {"normalisation", normalisation_name(d.pipeline.normalization)},
          {"train_feature_mb", train_feature_bytes_ / 1048576.0},
          {"feature_cache_mb", d.feature_cache_mb}};
}

void SpeechTask::write_run_files(const std::string& run_dir) {
  train_->vocab().save((fs::path(run_dir) / "vocab.json").string());
  if (stats_) stats_->save((fs::path(run_dir) / "feature_stats.json").string());
  write_file_atomic((fs::path(run_dir) / "speech.json").string(), corpus_info().dump(2) + "\n");
}

nlohmann::json SpeechTask::state() const {
  const speech::BatcherState s = loader_ ? loader_->state() : batcher_->state();
  return {{"objective", "ctc"},
          {"batcher", s.to_json()},
          {"vocab", train_->vocab().symbols()},
          {"vocab_identity", train_->vocab().identity()}};
}

void SpeechTask::restore(const nlohmann::json& state) {
  if (state.value("objective", std::string()) != "ctc")
    throw std::runtime_error("checkpoint was written by another training objective than the speech (CTC) task");
  if (state.at("vocab").get<std::vector<std::string>>() != train_->vocab().symbols())
    throw std::runtime_error("checkpoint was written with another CTC vocabulary (" +
                             std::to_string(state.at("vocab").size()) + " symbols, this run has " +
                             std::to_string(vocab_size()) + "); resume with the run's vocab.json "
                             "(data.vocabulary.path)");
  // Checkpoints before SentencePiece vocabularies have no identity; their symbols (characters) say it all.
  const std::string identity = state.value("vocab_identity", std::string());
  if (!identity.empty() && identity != train_->vocab().identity())
    throw std::runtime_error("checkpoint was written with another CTC vocabulary (" + identity + ", this run has " +
                             train_->vocab().identity() + "); resume with the run's vocab.json (data.vocabulary.path)");
  loader_.reset();  // the loader starts at the batcher's position: remade at the next train_batch
  micro_in_step_ = 0;
  batcher_->restore(speech::BatcherState::from_json(state.at("batcher")));
}

}  // namespace sigtrain::trainer
