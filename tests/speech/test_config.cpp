// SpeechDataConfig through the config API: every key, defaults, bad values, and the helpers that turn it into a
// corpus, a vocabulary and bucket options.
#include <gtest/gtest.h>

#include "common/config.h"
#include "data/speech/speech_config.h"
#include "parse_speech_config.h"
#include "speech_test_util.h"

namespace sp = sigtrain::speech;
namespace cfg = sigtrain::config;
using speech_test::fixture;

namespace {

sp::SpeechDataConfig parse(const std::string& yaml) { return speech_test::parse_speech_config(yaml); }

}  // namespace

TEST(SpeechConfig, Defaults) {
  const auto c = parse("speech:\n  path: " + fixture("librispeech") + "\n");
  EXPECT_EQ(c.format, "librispeech");
  EXPECT_EQ(c.pipeline.features.sample_rate_hz, 16000);
  EXPECT_EQ(c.pipeline.features.n_mels, 80);
  EXPECT_EQ(c.pipeline.normalization, sp::NormalizationMode::kUtterance);
  EXPECT_TRUE(c.pipeline.spec_augment.enabled);
  EXPECT_EQ(c.vocab_kind, "fixed");
  EXPECT_EQ(c.bucket_boundaries_s, (std::vector<double>{2, 4, 8, 16}));
  EXPECT_EQ(c.max_frames_per_batch, 20000);
  EXPECT_EQ(c.workers, 2);
}

TEST(SpeechConfig, ReadsEveryKey) {
  const auto c = parse("speech:\n  format: manifest\n  path: " + fixture("manifest.jsonl") + "\n  val_path: " +
                       fixture("manifest.tsv") +
                       "\n  sample_rate: 8000\n  resample_quality: best\n  max_duration_s: 3\n"
                       "  features: {n_mels: 40, win_ms: 32, hop_ms: 16, win_samples: 0, hop_samples: 0, n_fft: 512,"
                       " window: hamming, preemphasis: 0, mel_scale: slaney, mel_norm: slaney, f_min: 20, f_max: 3800,"
                       " log_floor: 1e-6}\n"
                       "  normalisation: {mode: global, stats_path: stats.json, max_utterances: 10}\n"
                       "  specaugment: {enabled: false, freq_masks: 1, freq_mask_max: 10, time_masks: 3,"
                       " time_mask_max: 50, time_mask_max_fraction: 0.2}\n"
                       "  vocabulary: {kind: build, path: '', case: upper, strip_punctuation: false, unknown: error}\n"
                       "  buckets: [1, 3]\n  max_frames_per_batch: 5000\n  max_utterances_per_batch: 16\n"
                       "  shuffle: false\n  workers: 0\n  prefetch: 8\n");
  const auto& f = c.pipeline.features;
  EXPECT_EQ(c.format, "manifest");
  EXPECT_EQ(c.val_path, fixture("manifest.tsv"));
  EXPECT_EQ(f.sample_rate_hz, 8000);
  EXPECT_EQ(c.pipeline.resample_quality, sp::ResampleQuality::kBest);
  EXPECT_DOUBLE_EQ(c.max_duration_s, 3.0);
  EXPECT_EQ(f.n_mels, 40);
  EXPECT_EQ(sp::resolve_frames(f).win_samples, 256);
  EXPECT_EQ(f.window, sp::WindowKind::kHamming);
  EXPECT_EQ(f.mel_scale, sp::MelScale::kSlaney);
  EXPECT_EQ(f.mel_norm, sp::MelNorm::kSlaney);
  EXPECT_DOUBLE_EQ(f.f_max_hz, 3800.0);
  EXPECT_DOUBLE_EQ(f.log_floor, 1e-6);
  EXPECT_EQ(c.pipeline.normalization, sp::NormalizationMode::kGlobal);
  EXPECT_EQ(c.stats_max_utterances, 10);
  EXPECT_FALSE(c.pipeline.spec_augment.enabled);
  EXPECT_EQ(c.pipeline.spec_augment.time_mask_max_frames, 50);
  EXPECT_DOUBLE_EQ(c.pipeline.spec_augment.time_mask_max_fraction, 0.2);
  EXPECT_EQ(c.vocab_kind, "build");
  EXPECT_EQ(c.pipeline.text.letter_case, sp::LetterCase::kUpper);
  EXPECT_FALSE(c.pipeline.text.strip_punctuation);
  EXPECT_EQ(c.pipeline.unknown_chars, sp::UnknownCharPolicy::kError);
  EXPECT_EQ(c.max_utterances_per_batch, 16);
  EXPECT_FALSE(c.shuffle);
  EXPECT_EQ(c.prefetch, 8);

  // The helpers: max_duration_s drops the two utterances over 3 s (agent-pass 3.285 s, 1-2-0930 3.29 s).
  EXPECT_EQ(sp::read_speech_corpus(c, false).size(), 3u);
  EXPECT_EQ(sp::read_speech_corpus(c, true).size(), 3u);
  const auto o = sp::bucket_options(c, 42, true);
  EXPECT_FALSE(o.shuffle);  // config says no
  EXPECT_EQ(o.seed, 42u);
  // 1 s and 3 s at 8 kHz with 256 / 128 samples: 1 + (8000 - 256) / 128 = 61, 1 + (24000 - 256) / 128 = 186.
  EXPECT_EQ(o.boundaries_frames, (std::vector<int64_t>{61, 186}));
}

TEST(SpeechConfig, VocabularyFromConfig) {
  auto c = parse("speech:\n  format: manifest\n  path: " + fixture("manifest.jsonl") + "\n  vocabulary: {kind: build}\n");
  const auto train = sp::read_speech_corpus(c, false);
  const auto built = sp::make_vocab(c, train);
  EXPECT_EQ(built->kind(), "char_ctc");
  EXPECT_EQ(built->id("'"), 2);
  EXPECT_EQ(built->id("x"), -1);  // no x in the five transcripts
  EXPECT_GT(built->id("y"), 2);
  c.vocab_kind = "fixed";
  EXPECT_EQ(sp::make_vocab(c, train)->size(), 29);
}

TEST(SpeechConfig, RejectsBadValues) {
  const std::string path = "speech:\n  path: " + fixture("librispeech") + "\n";
  EXPECT_THROW(parse("speech:\n  format: librispeech\n"), cfg::ConfigError);  // path required
  EXPECT_THROW(parse(path + "  featurs: {n_mels: 40}\n"), cfg::ConfigError);   // misspelt key
  EXPECT_THROW(parse(path + "  format: kaldi\n"), cfg::ConfigError);
  EXPECT_THROW(parse(path + "  buckets: [4, 2]\n"), cfg::ConfigError);
  EXPECT_THROW(parse(path + "  features: {window: blackman}\n"), cfg::ConfigError);
  EXPECT_THROW(parse(path + "  features: {n_fft: 256}\n"), cfg::ConfigError);  // shorter than the 400-sample window
  EXPECT_THROW(parse(path + "  specaugment: {time_mask_max_fraction: 1.5}\n"), cfg::ConfigError);
  EXPECT_THROW(parse(path + "  normalisation: {mode: batch}\n"), cfg::ConfigError);
  EXPECT_THROW(parse(path + "  prefetch: 0\n"), cfg::ConfigError);
  const std::string msg = speech_test::error_of<cfg::ConfigError>([&] { parse(path + "  features: {f_max: 9000}\n"); });
  EXPECT_NE(msg.find("test.yaml:3"), std::string::npos) << msg;
  EXPECT_NE(msg.find("speech.features.f_max"), std::string::npos) << msg;
}
