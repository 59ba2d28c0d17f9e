// The training features' memory cache (data/speech/feature_cache.h): its budget, and that a dataset with the cache
// gives the same features, bit for bit, cold, warm, partly filled and off, through the loader with workers too.
#include <gtest/gtest.h>

#include "data/speech/feature_cache.h"
#include "data/speech/manifest_corpus.h"
#include "data/speech/prefetch_loader.h"
#include "data/speech/speech_dataset.h"
#include "speech_test_util.h"

namespace sp = sigtrain::speech;
using speech_test::fixture;

namespace {

sp::FeatureCache::Features floats(size_t n, float v) { return std::make_shared<const std::vector<float>>(n, v); }

sp::SpeechDataset fixture_dataset() {
  sp::SpeechPipelineOptions o;
  o.spec_augment.enabled = true;
  o.spec_augment.time_mask_max_frames = 20;
  o.seed = 5;
  return sp::SpeechDataset(sp::read_manifest(fixture("manifest.jsonl")), sp::CharVocab::english(sp::LetterCase::kLower),
                           o);
}

}  // namespace

TEST(FeatureCache, KeepsWhatFitsAndNothingTwice) {
  sp::FeatureCache cache(3, 100 * sizeof(float));
  EXPECT_EQ(cache.find(0), nullptr);
  cache.offer(0, floats(60, 1.0f));
  ASSERT_NE(cache.find(0), nullptr);
  EXPECT_EQ(cache.find(0)->at(0), 1.0f);
  cache.offer(0, floats(10, 2.0f));  // already cached: kept as it was
  EXPECT_EQ(cache.find(0)->size(), 60u);
  cache.offer(1, floats(50, 3.0f));  // 60 + 50 > 100: over the budget, not kept
  EXPECT_EQ(cache.find(1), nullptr);
  cache.offer(2, floats(40, 4.0f));  // 60 + 40 = 100: fits exactly
  EXPECT_NE(cache.find(2), nullptr);
  EXPECT_EQ(cache.bytes(), static_cast<int64_t>(100 * sizeof(float)));
  EXPECT_EQ(cache.cached(), 2);
  EXPECT_THROW(cache.find(3), std::out_of_range);
}

TEST(FeatureCache, DatasetFeaturesAreTheSameColdWarmPartlyFilledAndOff) {
  const sp::SpeechDataset plain = fixture_dataset();
  sp::SpeechDataset all = fixture_dataset();
  all.enable_feature_cache(int64_t{64} << 20);
  sp::SpeechDataset part = fixture_dataset();
  // Room for the two shortest utterances' features (80 and 94 frames x 80 mels), not for a 297-frame one.
  part.enable_feature_cache((80 + 94 + 100) * 80 * static_cast<int64_t>(sizeof(float)));

  for (uint64_t epoch = 0; epoch < 3; ++epoch) {  // epoch 0 fills the caches, 1 and 2 read them
    for (int64_t u = 0; u < plain.size(); ++u) {
      for (bool augment : {false, true}) {
        const sp::UtteranceFeatures want = plain.featurize(u, epoch, augment);
        const sp::UtteranceFeatures got_all = all.featurize(u, epoch, augment);
        const sp::UtteranceFeatures got_part = part.featurize(u, epoch, augment);
        EXPECT_EQ(got_all.frames, want.frames);
        EXPECT_EQ(got_all.features, want.features) << "utterance " << u << ", epoch " << epoch;
        EXPECT_EQ(got_part.features, want.features) << "utterance " << u << ", epoch " << epoch;
      }
    }
  }
  EXPECT_EQ(all.feature_cache()->cached(), plain.size());
  EXPECT_EQ(part.feature_cache()->cached(), 2);  // the fixture's order: 80 and 94 frames first
  EXPECT_EQ(plain.feature_cache(), nullptr);
  all.enable_feature_cache(0);
  EXPECT_EQ(all.feature_cache(), nullptr);
}

TEST(FeatureCache, LoaderWithWorkersGivesTheSameBatchesAsWithoutTheCache) {
  const sp::SpeechDataset plain = fixture_dataset();
  sp::SpeechDataset cached = fixture_dataset();
  cached.enable_feature_cache(int64_t{64} << 20);
  sp::DurationBucketOptions o;
  o.boundaries_frames = {150};
  o.max_frames_per_batch = 600;
  o.seed = 5;
  const sp::DurationBatcher batcher(plain.ids(), plain.planned_frames(), o);
  // Three epochs of batches: the first fills the cache from 3 threads at once, the others read it.
  const int64_t n = 3 * batcher.batches_per_epoch();
  sp::PrefetchLoader loader(cached, batcher, {/*workers=*/3, /*prefetch=*/4, /*rank=*/0, /*world=*/1,
                                              /*augment=*/true, /*max_batches=*/n});
  for (int64_t j = 0; j < n; ++j) {
    const sp::SpeechBatch want = sp::make_batch(plain, batcher, j, true);
    const sp::SpeechBatch got = loader.next();
    EXPECT_EQ(got.utterance_ids, want.utterance_ids);
    EXPECT_EQ(got.features, want.features) << "batch " << j;
  }
  EXPECT_EQ(cached.feature_cache()->cached(), plain.size());
}
