#include "data/lm_sampler.h"

#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string>

#include "data/fnv1a.h"
#include "data/shuffle.h"

namespace sigtrain::data {
namespace {

void check_fits(const TokenShard& shard, int64_t seq_len, const char* what) {
  if (seq_len < 1) throw std::runtime_error(std::string(what) + ": seq_len must be >= 1, got " + std::to_string(seq_len));
  if (shard.size() < seq_len + 1)
    throw std::runtime_error(std::string(what) + ": " + shard.path().string() + " has " +
                             std::to_string(shard.size()) + " tokens, fewer than seq_len + 1 = " +
                             std::to_string(seq_len + 1) + "; use a bigger corpus or a shorter seq_len");
}

}  // namespace

nlohmann::json SamplerState::to_json() const {
  // uint64 fields as hex strings: JSON readers elsewhere (Python, jq) lose precision above 2^53.
  return {{"next_sample", next_sample},       {"seed", hex64(seed)},
          {"seq_len", seq_len},               {"shard_tokens", shard_tokens},
          {"shard_checksum", hex64(shard_checksum)}};
}

SamplerState SamplerState::from_json(const nlohmann::json& j) {
  auto field = [&](const char* key) -> const nlohmann::json& {
    if (!j.is_object() || !j.contains(key)) throw std::runtime_error(std::string("sampler state: missing field '") + key + "'");
    return j.at(key);
  };
  auto get_int = [&](const char* key) {
    const auto& v = field(key);
    if (!v.is_number_integer()) throw std::runtime_error(std::string("sampler state: field '") + key + "' must be an integer");
    return v.get<int64_t>();
  };
  auto get_hex = [&](const char* key) {
    const auto& v = field(key);
    if (!v.is_string()) throw std::runtime_error(std::string("sampler state: field '") + key + "' must be a hex string");
    const std::string s = v.get<std::string>();
    const std::optional<uint64_t> value = parse_hex64(s);
    if (!value) throw std::runtime_error(std::string("sampler state: field '") + key + "' is not hex: '" + s + "'");
    return *value;
  };
  SamplerState st;
  st.next_sample = get_int("next_sample");
  st.seed = get_hex("seed");
  st.seq_len = get_int("seq_len");
  st.shard_tokens = get_int("shard_tokens");
  st.shard_checksum = get_hex("shard_checksum");
  if (st.next_sample < 0) throw std::runtime_error("sampler state: next_sample is negative");
  return st;
}

RankSlice rank_slice(int64_t total, int rank, int world) {
  if (world < 1 || rank < 0 || rank >= world || total < 0)
    throw std::invalid_argument("rank_slice: need 0 <= rank < world and total >= 0, got rank " + std::to_string(rank) +
                                ", world " + std::to_string(world) + ", total " + std::to_string(total));
  const int64_t base = total / world;
  const int64_t extra = total % world;
  return {rank * base + std::min<int64_t>(rank, extra), base + (rank < extra ? 1 : 0)};
}

void copy_window(const TokenShard& shard, int64_t start, int64_t seq_len, int32_t* inputs, int32_t* targets) {
  shard.copy(start, seq_len, inputs);
  shard.copy(start + 1, seq_len, targets);
}

LmSampler::LmSampler(const TokenShard& shard, int64_t seq_len, uint64_t seed)
    : shard_(shard), seq_len_(seq_len), seed_(seed) {
  check_fits(shard, seq_len, "training sampler");
  windows_ = (shard.size() - 1) / seq_len;
  if (windows_ > int64_t{UINT32_MAX}) throw std::runtime_error("training sampler: more than 2^32 windows per epoch");
}

const std::vector<uint32_t>& LmSampler::permutation(int64_t epoch) const {
  if (epoch == cached_epoch_) return perm_;
  perm_ = epoch_permutation(windows_, seed_, epoch);
  cached_epoch_ = epoch;
  return perm_;
}

int64_t LmSampler::window_start(int64_t sample) const {
  if (sample < 0) throw std::out_of_range("training sampler: negative sample index " + std::to_string(sample));
  const auto& perm = permutation(sample / windows_);
  return static_cast<int64_t>(perm[static_cast<size_t>(sample % windows_)]) * seq_len_;
}

void LmSampler::fill(int64_t first_sample, int64_t count, int32_t* inputs, int32_t* targets) const {
  for (int64_t i = 0; i < count; ++i)
    copy_window(shard_, window_start(first_sample + i), seq_len_, inputs + i * seq_len_, targets + i * seq_len_);
}

int64_t LmSampler::next_batch(int64_t global_samples, int rank, int world, int32_t* inputs, int32_t* targets) {
  const RankSlice slice = rank_slice(global_samples, rank, world);
  fill(next_sample_ + slice.offset, slice.count, inputs, targets);
  advance(global_samples);
  return slice.count;
}

int64_t LmSampler::micro_batch_start(int64_t global_samples, int rank, int world, int64_t micro,
                                     int64_t micro_batch) const {
  return next_sample_ + rank_slice(global_samples, rank, world).offset + micro * micro_batch;
}

void LmSampler::advance(int64_t samples) {
  if (samples < 0) throw std::invalid_argument("training sampler: cannot advance by a negative count");
  next_sample_ += samples;
}

SamplerState LmSampler::state() const {
  return {next_sample_, seed_, seq_len_, shard_.size(), shard_.checksum()};
}

void LmSampler::restore(const SamplerState& s) {
  auto mismatch = [](const std::string& what, const std::string& saved, const std::string& now) {
    throw std::runtime_error("cannot restore the data position: " + what + " differs (checkpoint " + saved +
                             ", this run " + now + ")");
  };
  if (s.seed != seed_) mismatch("seed", std::to_string(s.seed), std::to_string(seed_));
  if (s.seq_len != seq_len_) mismatch("data.seq_len", std::to_string(s.seq_len), std::to_string(seq_len_));
  if (s.shard_tokens != shard_.size() || s.shard_checksum != shard_.checksum())
    mismatch("the training shard (" + shard_.path().string() + ")",
             std::to_string(s.shard_tokens) + " tokens, checksum " + hex64(s.shard_checksum),
             std::to_string(shard_.size()) + " tokens, checksum " + hex64(shard_.checksum()));
  if (s.next_sample < 0) throw std::runtime_error("cannot restore the data position: negative next_sample");
  next_sample_ = s.next_sample;
}

LmValidationSet::LmValidationSet(const TokenShard& shard, int64_t seq_len, int64_t max_tokens)
    : shard_(shard), seq_len_(seq_len) {
  check_fits(shard, seq_len, "validation set");
  const int64_t all = (shard.size() - 1) / seq_len;
  const int64_t n = max_tokens > 0 ? std::max<int64_t>(1, std::min(all, max_tokens / seq_len)) : all;
  starts_.resize(static_cast<size_t>(n));
  // i * all / n computed without overflow for any realistic shard (all < 2^32, n <= all).
  for (int64_t i = 0; i < n; ++i) starts_[static_cast<size_t>(i)] = (i * all / n) * seq_len;
}

void LmValidationSet::fill(int64_t first_window, int64_t count, int32_t* inputs, int32_t* targets) const {
  if (first_window < 0 || count < 0 || first_window + count > num_windows())
    throw std::out_of_range("validation set: windows [" + std::to_string(first_window) + ", " +
                            std::to_string(first_window + count) + ") outside [0, " + std::to_string(num_windows()) +
                            ")");
  for (int64_t i = 0; i < count; ++i)
    copy_window(shard_, starts_[static_cast<size_t>(first_window + i)], seq_len_, inputs + i * seq_len_,
                targets + i * seq_len_);
}

}  // namespace sigtrain::data
