// The dataset pipeline and the prefetching loader on the real fixtures: batch contents, loader order equal to the
// synchronous order for 0, 1 and 4 workers, ranks, worker errors re-thrown with the file name, clean shutdown.
#include <gtest/gtest.h>

#include <filesystem>

#include "data/speech/manifest_corpus.h"
#include "data/speech/prefetch_loader.h"
#include "data/speech/speech_dataset.h"
#include "data/speech/speech_error.h"
#include "speech_test_util.h"

namespace sp = sigtrain::speech;
namespace fs = std::filesystem;
using speech_test::fixture;

namespace {

sp::SpeechPipelineOptions pipeline() {
  sp::SpeechPipelineOptions o;
  o.spec_augment.enabled = true;
  o.spec_augment.time_mask_max_frames = 20;
  o.seed = 3;
  return o;
}

sp::SpeechDataset fixture_dataset(const std::string& manifest = fixture("manifest.jsonl")) {
  return sp::SpeechDataset(sp::read_manifest(manifest), sp::CharVocab::english(sp::LetterCase::kLower), pipeline());
}

sp::DurationBucketOptions small_batches() {
  sp::DurationBucketOptions o;
  o.boundaries_frames = {150};
  o.max_frames_per_batch = 600;  // 5 utterances of 80 .. 327 frames -> [80, 94] and three alone: 4 batches
  o.seed = 3;
  return o;
}

void expect_same(const sp::SpeechBatch& a, const sp::SpeechBatch& b) {
  EXPECT_EQ(a.global_index, b.global_index);
  EXPECT_EQ(a.utterance_ids, b.utterance_ids);
  EXPECT_EQ(a.frame_lengths, b.frame_lengths);
  EXPECT_EQ(a.targets, b.targets);
  EXPECT_EQ(a.target_lengths, b.target_lengths);
  EXPECT_EQ(a.features, b.features);  // bit for bit
}

}  // namespace

TEST(SpeechLoader, BatchContents) {
  const auto ds = fixture_dataset();
  EXPECT_EQ(ds.unknown_chars().count, 0);
  // seven.wav: 6561 samples at 8 kHz -> 13122 at 16 kHz -> 1 + (13122 - 400) / 160 = 80 frames; thank-you
  // 15358 -> 94, agent-pass 52560 -> 327, 1-1-0880 47840 -> 297, 1-2-0930 52640 -> 327.
  EXPECT_EQ(ds.planned_frames(), (std::vector<int64_t>{80, 94, 327, 297, 327}));
  const sp::DurationBatcher batcher(ds.ids(), ds.planned_frames(), small_batches());
  EXPECT_EQ(batcher.batches_per_epoch(), 4);
  for (int64_t k = 0; k < 4; ++k) {
    const sp::SpeechBatch b = sp::make_batch(ds, batcher, k, false);
    ASSERT_EQ(b.batch_size, static_cast<int64_t>(batcher.batch_at(k).utterances.size()));
    EXPECT_EQ(b.n_mels, 80);
    int64_t frames = 0, targets = 0;
    for (int64_t i = 0; i < b.batch_size; ++i) {
      const int64_t u = batcher.batch_at(k).utterances[i];
      EXPECT_EQ(b.utterance_ids[i], ds.corpus()[u].id);
      EXPECT_EQ(b.frame_lengths[i], ds.planned_frames()[u]);  // the soxi durations are exact here
      EXPECT_EQ(b.target_lengths[i], static_cast<int64_t>(ds.targets(u).size()));
      // Padding past the utterance is 0; the utterance itself is normalised (not all 0).
      for (int64_t t = b.frame_lengths[i]; t < b.max_frames; ++t)
        for (int64_t m = 0; m < 80; ++m) ASSERT_EQ(b.features[(i * b.max_frames + t) * 80 + m], 0.0f);
      frames += b.frame_lengths[i];
      targets += b.target_lengths[i];
    }
    EXPECT_EQ(static_cast<int64_t>(b.targets.size()), targets);
    EXPECT_DOUBLE_EQ(b.padding_fraction, 1.0 - static_cast<double>(frames) / static_cast<double>(b.batch_size * b.max_frames));
  }
  // "seven" -> s e v e n.
  const auto v = sp::CharVocab::english(sp::LetterCase::kLower);
  EXPECT_EQ(ds.targets(0), v.encode("seven", sp::UnknownCharPolicy::kError));
  EXPECT_EQ(ds.targets(1), v.encode("thank you", sp::UnknownCharPolicy::kError));
}

TEST(SpeechLoader, PrefetchOrderEqualsSynchronousOrder) {
  const auto ds = fixture_dataset();
  sp::DurationBatcher batcher(ds.ids(), ds.planned_frames(), small_batches());
  batcher.advance(2);  // start mid-epoch; 10 batches then cross two epoch boundaries
  std::vector<sp::SpeechBatch> expected;
  for (int64_t j = 0; j < 10; ++j) expected.push_back(sp::make_batch(ds, batcher, 2 + j, true));
  for (int workers : {0, 1, 4}) {
    SCOPED_TRACE(workers);
    sp::PrefetchLoader loader(ds, batcher, {workers, 2, 0, 1, true, 10});
    for (int64_t j = 0; j < 10; ++j) expect_same(loader.next(), expected[j]);
    EXPECT_TRUE(loader.done());
    EXPECT_EQ(loader.position(), 12);
    EXPECT_EQ(loader.state().next_batch, 12);
    EXPECT_THROW(loader.next(), std::out_of_range);
  }
  // SpecAugment differs between epochs for the same utterance batch (epoch is part of its seed).
  EXPECT_NE(expected[0].features, sp::make_batch(ds, batcher, 2 + 4, true).features);
}

TEST(SpeechLoader, RanksTakeInterleavedBatches) {
  const auto ds = fixture_dataset();
  const sp::DurationBatcher batcher(ds.ids(), ds.planned_frames(), small_batches());
  sp::PrefetchLoader rank1(ds, batcher, {3, 3, 1, 2, false, 3});
  for (int64_t j = 0; j < 3; ++j) {
    const auto b = rank1.next();
    EXPECT_EQ(b.global_index, 2 * j + 1);
    expect_same(b, sp::make_batch(ds, batcher, 2 * j + 1, false));
  }
  EXPECT_EQ(rank1.position(), 6);  // 3 steps of 2 batches: the same on rank 0
}

TEST(SpeechLoader, WorkerErrorsReachTheConsumerWithTheFileName) {
  const fs::path dir = speech_test::temp_dir("loader_error");
  fs::copy_file(fixture("asterisk/seven.wav"), dir / "good.wav");
  speech_test::write_text(dir / "broken.wav", "RIFF but not really");
  speech_test::write_text(dir / "m.jsonl", R"({"path": "good.wav", "duration": 0.820125, "text": "seven"}
{"path": "broken.wav", "duration": 2.0, "text": "broken"}
)");
  const auto ds = fixture_dataset((dir / "m.jsonl").string());
  sp::DurationBucketOptions o;
  o.shuffle = false;
  o.max_frames_per_batch = 100;  // one utterance per batch: batch 0 = broken (longest first), batch 1 = good
  const sp::DurationBatcher batcher(ds.ids(), ds.planned_frames(), o);
  for (int workers : {0, 2}) {
    sp::PrefetchLoader loader(ds, batcher, {workers, 4, 0, 1, false, -1});
    const std::string msg = speech_test::error_of<sp::SpeechDataError>([&] { loader.next(); });
    EXPECT_EQ(msg.rfind("utterance 'broken' (" + (dir / "m.jsonl").string() + ":2): " + (dir / "broken.wav").string() +
                            ": cannot read as audio",
                        0),
              0u)
        << msg;
    EXPECT_THROW(loader.next(), sp::SpeechDataError);  // the stream stays failed
  }
}

TEST(SpeechLoader, ShutsDownCleanlyWithWorkInFlight) {
  const auto ds = fixture_dataset();
  const sp::DurationBatcher batcher(ds.ids(), ds.planned_frames(), small_batches());
  { sp::PrefetchLoader idle(ds, batcher, {4, 8, 0, 1, true, -1}); }  // destroyed while prefetching
  sp::PrefetchLoader loader(ds, batcher, {4, 8, 0, 1, true, -1});
  EXPECT_EQ(loader.next().global_index, 0);
  EXPECT_EQ(loader.next().global_index, 1);
}

TEST(SpeechLoader, GlobalStatsOverTheTrainingSet) {
  const auto ds = fixture_dataset();
  const sp::FeatureStats stats = sp::compute_feature_stats(ds);
  EXPECT_EQ(stats.frames(), 80 + 94 + 327 + 297 + 327);
  auto options = pipeline();
  options.normalization = sp::NormalizationMode::kGlobal;
  EXPECT_THROW(sp::SpeechDataset(ds.corpus(), ds.vocab(), options), std::invalid_argument);  // no stats
  const sp::SpeechDataset global(ds.corpus(), ds.vocab(), options, stats);
  sp::FeatureStats after(80);
  for (int64_t i = 0; i < global.size(); ++i) after.add(global.featurize(i, 0, false).features);
  for (double mu : after.mean()) EXPECT_NEAR(mu, 0.0, 1e-4);
  EXPECT_EQ(sp::compute_feature_stats(ds, 2).frames(), 80 + 327);  // utterances 0 and 2 (evenly spaced)
}
