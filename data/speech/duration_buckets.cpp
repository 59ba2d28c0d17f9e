#include "data/speech/duration_buckets.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <numeric>
#include <stdexcept>

#include "data/fnv1a.h"
#include "data/speech/deterministic_rng.h"

namespace sigtrain::speech {
namespace {

uint64_t plan_fingerprint(const std::vector<std::string>& ids, const std::vector<int64_t>& frames,
                          const DurationBucketOptions& o) {
  data::Fnv1a64 h;
  h.update_field("speech-duration-buckets-v1");
  for (size_t u = 0; u < ids.size(); ++u) {
    h.update_field(ids[u]);
    h.update(&frames[u], sizeof(frames[u]));
  }
  for (int64_t b : o.boundaries_frames) h.update(&b, sizeof(b));
  h.update(&o.max_frames_per_batch, sizeof(o.max_frames_per_batch));
  h.update(&o.max_utterances_per_batch, sizeof(o.max_utterances_per_batch));
  const uint8_t shuffle = o.shuffle ? 1 : 0;
  h.update(&shuffle, 1);
  return h.digest();
}

}  // namespace

double PlannedBatch::padding_fraction() const {
  const int64_t padded = padded_frames();
  return padded == 0 ? 0.0 : 1.0 - static_cast<double>(frames) / static_cast<double>(padded);
}

nlohmann::json BatcherState::to_json() const {
  // uint64 fields as hex strings (JSON readers elsewhere lose precision above 2^53), as data::SamplerState does.
  return {{"next_batch", next_batch}, {"seed", data::hex64(seed)}, {"batches_per_epoch", batches_per_epoch},
          {"utterances", utterances}, {"fingerprint", data::hex64(fingerprint)}};
}

BatcherState BatcherState::from_json(const nlohmann::json& j) {
  auto field = [&](const char* key) -> const nlohmann::json& {
    if (!j.is_object() || !j.contains(key))
      throw std::runtime_error(std::string("speech batcher state: missing field '") + key + "'");
    return j.at(key);
  };
  auto integer = [&](const char* key) {
    if (!field(key).is_number_integer())
      throw std::runtime_error(std::string("speech batcher state: field '") + key + "' must be an integer");
    return field(key).get<int64_t>();
  };
  auto hex = [&](const char* key) {
    const std::optional<uint64_t> v =
        data::parse_hex64(field(key).is_string() ? field(key).get<std::string>() : std::string());
    if (!v) throw std::runtime_error(std::string("speech batcher state: field '") + key + "' must be a hex string");
    return *v;
  };
  BatcherState s;
  s.next_batch = integer("next_batch");
  s.seed = hex("seed");
  s.batches_per_epoch = integer("batches_per_epoch");
  s.utterances = integer("utterances");
  s.fingerprint = hex("fingerprint");
  if (s.next_batch < 0) throw std::runtime_error("speech batcher state: next_batch is negative");
  return s;
}

DurationBatcher::DurationBatcher(const std::vector<std::string>& ids, const std::vector<int64_t>& frames,
                                 DurationBucketOptions options)
    : options_(std::move(options)), utterances_(static_cast<int64_t>(frames.size())) {
  const auto& bounds = options_.boundaries_frames;
  if (ids.size() != frames.size()) throw std::invalid_argument("DurationBatcher: ids and frames differ in size");
  if (frames.empty()) throw std::invalid_argument("DurationBatcher: no utterances to batch");
  if (std::adjacent_find(bounds.begin(), bounds.end(), std::greater_equal<>()) != bounds.end())
    throw std::invalid_argument("DurationBatcher: bucket boundaries must be strictly ascending");
  if (options_.max_frames_per_batch < 1 || options_.max_utterances_per_batch < 0)
    throw std::invalid_argument("DurationBatcher: max_frames_per_batch must be >= 1, max_utterances_per_batch >= 0");

  std::vector<std::vector<int64_t>> buckets(bounds.size() + 1);
  for (int64_t u = 0; u < utterances_; ++u) {
    const int64_t f = frames[static_cast<size_t>(u)];
    buckets[static_cast<size_t>(std::lower_bound(bounds.begin(), bounds.end(), f) - bounds.begin())].push_back(u);
  }
  for (auto& bucket : buckets) {
    if (bucket.empty()) continue;
    ++buckets_used_;
    std::stable_sort(bucket.begin(), bucket.end(),
                     [&](int64_t a, int64_t b) { return frames[static_cast<size_t>(a)] > frames[static_cast<size_t>(b)]; });
    PlannedBatch current;
    auto flush = [&] {
      if (current.utterances.empty()) return;
      if (current.padded_frames() > options_.max_frames_per_batch) ++oversized_;
      plan_.push_back(std::move(current));
      current = PlannedBatch{};
    };
    for (int64_t u : bucket) {
      const int64_t f = frames[static_cast<size_t>(u)];
      const int64_t longest = current.utterances.empty() ? f : current.longest_frames;  // longest first
      const auto size_after = static_cast<int64_t>(current.utterances.size()) + 1;
      const bool over_frames = size_after * longest > options_.max_frames_per_batch;
      const bool over_count = options_.max_utterances_per_batch > 0 && size_after > options_.max_utterances_per_batch;
      if (!current.utterances.empty() && (over_frames || over_count)) flush();
      if (current.utterances.empty()) current.longest_frames = f;
      current.utterances.push_back(u);
      current.frames += f;
    }
    flush();
  }
  fingerprint_ = plan_fingerprint(ids, frames, options_);
}

double DurationBatcher::padding_fraction() const {
  int64_t frames = 0, padded = 0;
  for (const auto& b : plan_) {
    frames += b.frames;
    padded += b.padded_frames();
  }
  return padded == 0 ? 0.0 : 1.0 - static_cast<double>(frames) / static_cast<double>(padded);
}

std::string DurationBatcher::summary() const {
  char buf[256];
  std::snprintf(buf, sizeof(buf), "%lld batches of %lld utterances in %zu buckets, padding %.1f %%, %lld oversized (max %lld frames)",
                static_cast<long long>(plan_.size()), static_cast<long long>(utterances_), buckets_used_,
                100.0 * padding_fraction(), static_cast<long long>(oversized_),
                static_cast<long long>(options_.max_frames_per_batch));
  return buf;
}

int64_t DurationBatcher::plan_index(int64_t global_index) const {
  if (global_index < 0) throw std::out_of_range("DurationBatcher: negative batch index");
  const int64_t n = batches_per_epoch();
  if (!options_.shuffle) return global_index % n;
  const int64_t epoch = global_index / n;
  std::lock_guard<std::mutex> lock(permutation_mutex_);
  if (epoch != permutation_epoch_) {
    permutation_.resize(static_cast<size_t>(n));
    std::iota(permutation_.begin(), permutation_.end(), int64_t{0});
    std::mt19937_64 rng = seeded_rng(options_.seed, kStreamBatchOrder, static_cast<uint64_t>(epoch), 0);
    deterministic_shuffle(permutation_, rng);
    permutation_epoch_ = epoch;
  }
  return permutation_[static_cast<size_t>(global_index % n)];
}

const PlannedBatch& DurationBatcher::batch_at(int64_t global_index) const {
  return plan_[static_cast<size_t>(plan_index(global_index))];
}

int64_t DurationBatcher::rank_batch_index(int64_t position, int64_t j, int rank, int world) {
  if (world < 1 || rank < 0 || rank >= world || j < 0 || position < 0)
    throw std::invalid_argument("rank_batch_index: need 0 <= rank < world, j >= 0, position >= 0");
  return position + j * world + rank;
}

void DurationBatcher::advance(int64_t batches) {
  if (batches < 0) throw std::invalid_argument("DurationBatcher::advance: negative count");
  position_ += batches;
}

BatcherState DurationBatcher::state_at(int64_t position) const {
  return {position, options_.seed, batches_per_epoch(), utterances_, fingerprint_};
}

void DurationBatcher::restore(const BatcherState& s) {
  auto refuse = [](const std::string& what, const std::string& saved, const std::string& now) {
    throw std::runtime_error("cannot restore the speech data position: " + what + " differs (checkpoint " + saved +
                             ", this run " + now + "); resuming on other data is refused");
  };
  if (s.seed != options_.seed) refuse("seed", std::to_string(s.seed), std::to_string(options_.seed));
  if (s.fingerprint != fingerprint_ || s.utterances != utterances_ || s.batches_per_epoch != batches_per_epoch())
    refuse("the utterance list or the batching options (fingerprint of ids, frames, buckets, limits)",
           std::to_string(s.utterances) + " utterances, " + std::to_string(s.batches_per_epoch) +
               " batches/epoch, fingerprint " + data::hex64(s.fingerprint),
           std::to_string(utterances_) + " utterances, " + std::to_string(batches_per_epoch()) +
               " batches/epoch, fingerprint " + data::hex64(fingerprint_));
  position_ = s.next_batch;
}

}  // namespace sigtrain::speech
