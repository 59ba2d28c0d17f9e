// Duration-bucketed batching: every utterance once, the frame limit, padding fractions, deterministic per-epoch
// order, state / restore with the fingerprint check, and the data-parallel rule.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <set>

#include "data/speech/duration_buckets.h"
#include "data/speech/prefetch_loader.h"
#include "speech_test_util.h"

namespace sp = sigtrain::speech;

namespace {

struct Utts {
  std::vector<std::string> ids;
  std::vector<int64_t> frames;
};

// 200 utterances of 50 .. 1549 frames from a fixed LCG.
Utts synthetic(size_t n = 200) {
  Utts u;
  uint64_t s = 99;
  for (size_t i = 0; i < n; ++i) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    u.ids.push_back("utt" + std::to_string(i));
    u.frames.push_back(50 + static_cast<int64_t>((s >> 33) % 1500));
  }
  return u;
}

sp::DurationBucketOptions options(uint64_t seed = 5) {
  sp::DurationBucketOptions o;
  o.boundaries_frames = {200, 500, 1000};
  o.max_frames_per_batch = 4000;
  o.seed = seed;
  return o;
}

std::vector<int64_t> stream(const sp::DurationBatcher& b, int64_t first, int64_t count) {
  std::vector<int64_t> first_utterances;
  for (int64_t k = first; k < first + count; ++k) first_utterances.push_back(b.batch_at(k).utterances.front());
  return first_utterances;
}

}  // namespace

TEST(SpeechBatching, PlanCoversEveryUtteranceWithinTheLimit) {
  const Utts u = synthetic();
  const sp::DurationBatcher b(u.ids, u.frames, options());
  std::vector<int> seen(u.ids.size(), 0);
  int64_t frames = 0, padded = 0;
  for (const auto& batch : b.plan()) {
    ASSERT_FALSE(batch.utterances.empty());
    EXPECT_LE(batch.padded_frames(), 4000);
    // One bucket per batch, longest first, and the batch's own numbers.
    const int64_t longest = u.frames[batch.utterances.front()];
    const std::vector<int64_t> bounds = options().boundaries_frames;
    const auto bucket = [&](int64_t f) { return std::lower_bound(bounds.begin(), bounds.end(), f) - bounds.begin(); };
    int64_t sum = 0;
    for (int64_t i : batch.utterances) {
      ++seen[i];
      EXPECT_EQ(bucket(u.frames[i]), bucket(longest));
      EXPECT_LE(u.frames[i], longest);
      sum += u.frames[i];
    }
    EXPECT_EQ(batch.longest_frames, longest);
    EXPECT_EQ(batch.frames, sum);
    EXPECT_DOUBLE_EQ(batch.padding_fraction(), 1.0 - static_cast<double>(sum) / static_cast<double>(longest * batch.utterances.size()));
    frames += sum;
    padded += batch.padded_frames();
  }
  for (int n : seen) EXPECT_EQ(n, 1);
  EXPECT_EQ(b.oversized(), 0);
  EXPECT_DOUBLE_EQ(b.padding_fraction(), 1.0 - static_cast<double>(frames) / static_cast<double>(padded));
  // Sorting inside buckets keeps padding small; one random batch of mixed lengths would pad ~50 %.
  EXPECT_LT(b.padding_fraction(), 0.05);
  EXPECT_NE(b.summary().find("padding"), std::string::npos);
}

TEST(SpeechBatching, OversizedAndUtteranceLimits) {
  Utts u = synthetic(20);
  u.ids.push_back("long");
  u.frames.push_back(5000);
  auto o = options();
  o.max_utterances_per_batch = 3;
  const sp::DurationBatcher b(u.ids, u.frames, o);
  EXPECT_EQ(b.oversized(), 1);
  int64_t long_batches = 0;
  for (const auto& batch : b.plan()) {
    EXPECT_LE(batch.utterances.size(), 3u);
    if (batch.longest_frames == 5000) {
      ++long_batches;
      EXPECT_EQ(batch.utterances.size(), 1u);
    } else {
      EXPECT_LE(batch.padded_frames(), 4000);
    }
  }
  EXPECT_EQ(long_batches, 1);
  auto bad = options();
  bad.boundaries_frames = {500, 200};
  EXPECT_THROW(sp::DurationBatcher(u.ids, u.frames, bad), std::invalid_argument);
}

TEST(SpeechBatching, DeterministicShuffledEpochs) {
  const Utts u = synthetic();
  const sp::DurationBatcher a(u.ids, u.frames, options(5)), b(u.ids, u.frames, options(5)), c(u.ids, u.frames, options(6));
  const int64_t n = a.batches_per_epoch();
  ASSERT_GT(n, 20);
  EXPECT_EQ(stream(a, 0, 3 * n), stream(b, 0, 3 * n));
  EXPECT_NE(stream(a, 0, n), stream(c, 0, n));
  EXPECT_NE(stream(a, 0, n), stream(a, n, n));  // each epoch its own order
  for (int64_t e = 0; e < 3; ++e) {  // ... and each a permutation of the plan
    std::set<const sp::PlannedBatch*> batches;
    for (int64_t k = e * n; k < (e + 1) * n; ++k) batches.insert(&a.batch_at(k));
    EXPECT_EQ(static_cast<int64_t>(batches.size()), n);
    EXPECT_EQ(a.epoch_of(e * n), e);
  }
  auto o = options();
  o.shuffle = false;
  const sp::DurationBatcher plain(u.ids, u.frames, o);
  for (int64_t k = 0; k < 2 * n; ++k) EXPECT_EQ(&plain.batch_at(k), &plain.plan()[k % n]);
}

TEST(SpeechBatching, StateRestoreAndFingerprint) {
  const Utts u = synthetic();
  sp::DurationBatcher a(u.ids, u.frames, options());
  a.advance(37);
  const nlohmann::json saved = a.state().to_json();
  EXPECT_EQ(saved.at("next_batch"), 37);
  EXPECT_TRUE(saved.at("fingerprint").is_string());

  sp::DurationBatcher b(u.ids, u.frames, options());
  b.restore(sp::BatcherState::from_json(saved));
  EXPECT_EQ(b.position(), 37);
  EXPECT_EQ(stream(b, b.position(), 50), stream(a, 37, 50));

  Utts other = u;
  other.ids[7] = "renamed";
  sp::DurationBatcher c(other.ids, other.frames, options());
  const std::string msg = speech_test::error_of([&] { c.restore(sp::BatcherState::from_json(saved)); });
  EXPECT_EQ(msg.rfind("cannot restore the speech data position: the utterance list or the batching options", 0), 0u) << msg;
  EXPECT_NE(msg.find("resuming on other data is refused"), std::string::npos);
  auto limits = options();
  limits.max_frames_per_batch = 3000;
  sp::DurationBatcher d(u.ids, u.frames, limits);
  EXPECT_THROW(d.restore(sp::BatcherState::from_json(saved)), std::runtime_error);
  sp::DurationBatcher e(u.ids, u.frames, options(9));
  EXPECT_NE(speech_test::error_of([&] { e.restore(sp::BatcherState::from_json(saved)); }).find("seed differs"), std::string::npos);

  nlohmann::json broken = saved;
  broken.erase("fingerprint");
  EXPECT_EQ(speech_test::error_of([&] { sp::BatcherState::from_json(broken); }),
            "speech batcher state: missing field 'fingerprint'");
}

TEST(SpeechBatching, RanksShareGlobalStepsAndOnePosition) {
  // W = 3 from position 10: rank r's j-th batch is 10 + 3j + r; together the ranks take [10, 10 + 3j) exactly.
  for (int world : {1, 2, 3}) {
    std::vector<int64_t> all;
    for (int rank = 0; rank < world; ++rank)
      for (int64_t j = 0; j < 5; ++j) all.push_back(sp::DurationBatcher::rank_batch_index(10, j, rank, world));
    std::sort(all.begin(), all.end());
    for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i], 10 + static_cast<int64_t>(i));
  }
  EXPECT_EQ(sp::DurationBatcher::rank_batch_index(10, 2, 1, 3), 17);
  EXPECT_THROW(sp::DurationBatcher::rank_batch_index(0, 0, 3, 3), std::invalid_argument);
  EXPECT_EQ(sp::batches_per_rank(10, 0, 3), 4);
  EXPECT_EQ(sp::batches_per_rank(10, 1, 3), 3);
  EXPECT_EQ(sp::batches_per_rank(10, 2, 3), 3);
  EXPECT_EQ(sp::batches_per_rank(1, 1, 2), 0);
}
