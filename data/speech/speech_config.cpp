#include "data/speech/speech_config.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "data/speech/char_vocab.h"
#include "data/speech/librispeech_corpus.h"
#include "data/speech/manifest_corpus.h"
#include "data/speech/utf8.h"

namespace sigtrain::speech {
namespace {

void parse_features(config::SectionReader r, FeatureOptions& f) {
  f.n_mels = r.get_int("n_mels", f.n_mels, 1, 1024);
  f.win_ms = r.get_double("win_ms", f.win_ms, 1e-3, 1000.0);
  f.hop_ms = r.get_double("hop_ms", f.hop_ms, 1e-3, 1000.0);
  f.win_samples = r.get_int("win_samples", f.win_samples, 0, 1 << 20);
  f.hop_samples = r.get_int("hop_samples", f.hop_samples, 0, 1 << 20);
  f.n_fft = r.get_int("n_fft", f.n_fft, 0, 1 << 20);
  f.window = r.get_enum("window", "hann", {"hann", "hamming"}) == "hann" ? WindowKind::kHann : WindowKind::kHamming;
  f.preemphasis = r.get_double("preemphasis", f.preemphasis, 0.0, 0.999);
  f.mel_scale = r.get_enum("mel_scale", "htk", {"htk", "slaney"}) == "htk" ? MelScale::kHtk : MelScale::kSlaney;
  f.mel_norm = r.get_enum("mel_norm", "none", {"none", "slaney"}) == "none" ? MelNorm::kNone : MelNorm::kSlaney;
  f.f_min_hz = r.get_double("f_min", f.f_min_hz, 0.0, 1e6);
  f.f_max_hz = r.get_double("f_max", f.f_max_hz, 0.0, 1e6);
  f.log_floor = r.get_double("log_floor", f.log_floor, 1e-30, 1.0);
  const double nyquist = 0.5 * static_cast<double>(f.sample_rate_hz);
  if (f.f_max_hz > nyquist) r.fail("f_max", "expected at most sample_rate / 2 = " + std::to_string(nyquist) + " Hz");
  if (f.f_min_hz >= (f.f_max_hz > 0 ? f.f_max_hz : nyquist)) r.fail("f_min", "expected below f_max");
  try {
    resolve_frames(f);
  } catch (const std::invalid_argument& e) {
    r.fail("n_fft", e.what());
  }
}

void parse_spec_augment(config::SectionReader r, SpecAugmentOptions& s) {
  s.enabled = r.get_bool("enabled", true);
  s.freq_masks = r.get_int("freq_masks", s.freq_masks, 0, 100);
  s.freq_mask_max_bins = r.get_int("freq_mask_max", s.freq_mask_max_bins, 0, 1024);
  s.time_masks = r.get_int("time_masks", s.time_masks, 0, 1000);
  s.time_mask_max_frames = r.get_int("time_mask_max", s.time_mask_max_frames, 0, 1 << 20);
  s.time_mask_max_fraction = r.get_double("time_mask_max_fraction", s.time_mask_max_fraction, 0.0, 1.0);
}

}  // namespace

SpeechDataConfig parse_speech_data_config(config::SectionReader& r) {
  SpeechDataConfig c;
  c.format = r.get_enum("format", c.format, {"librispeech", "manifest"});
  c.path = r.get_path("path", "");
  if (c.path.empty()) r.fail("path", "required: a LibriSpeech root folder or a .jsonl / .tsv manifest");
  c.val_path = r.get_path("val_path", "");
  c.pipeline.features.sample_rate_hz = r.get_int("sample_rate", 16000, 1000, 384000);
  c.pipeline.resample_quality =
      parse_resample_quality(r.get_enum("resample_quality", "medium", resample_quality_names()));
  c.max_duration_s = r.get_double("max_duration_s", c.max_duration_s, 0.0, 1e6);
  parse_features(r.sub("features"), c.pipeline.features);

  config::SectionReader norm = r.sub("normalisation");
  c.pipeline.normalization = parse_normalization_mode(norm.get_enum("mode", "utterance", {"none", "utterance", "global"}));
  c.stats_path = norm.get_path("stats_path", "");
  c.stats_max_utterances = norm.get_int("max_utterances", c.stats_max_utterances, 0);

  parse_spec_augment(r.sub("specaugment"), c.pipeline.spec_augment);

  config::SectionReader vocab = r.sub("vocabulary");
  c.vocab_kind = vocab.get_enum("kind", c.vocab_kind, {"fixed", "build", "sentencepiece"});
  c.vocab_path = vocab.get_path("path", "");
  c.pipeline.text.letter_case = parse_letter_case(vocab.get_enum("case", "lower", {"lower", "upper"}));
  c.pipeline.text.strip_punctuation = vocab.get_bool("strip_punctuation", true);
  c.pipeline.unknown_chars = parse_unknown_char_policy(vocab.get_enum("unknown", "drop", {"drop", "error"}));
  if (c.vocab_kind == "sentencepiece") {
    c.sentencepiece.vocab_size = vocab.get_int("vocab_size", c.sentencepiece.vocab_size, 2, 1 << 20);
    c.sentencepiece.model_type = vocab.get_enum("model_type", c.sentencepiece.model_type, {"unigram", "bpe"});
    c.vocab_cache_dir = vocab.get_string("cache_dir", c.vocab_cache_dir);
    if (c.vocab_cache_dir.empty()) vocab.fail("cache_dir", "expected a directory path, got an empty string");
  } else {
    for (const char* key : {"vocab_size", "model_type", "cache_dir"})
      if (vocab.has(key))
        vocab.fail(key, "only used with vocabulary.kind: sentencepiece (kind " + c.vocab_kind +
                            " is one id per character)");
  }
  c.section = r.path();

  c.bucket_boundaries_s = r.get_double_list("buckets", c.bucket_boundaries_s);
  for (size_t i = 0; i < c.bucket_boundaries_s.size(); ++i) {
    if (!(c.bucket_boundaries_s[i] > 0)) r.fail("buckets", "expected positive durations in seconds");
    if (i > 0 && c.bucket_boundaries_s[i] <= c.bucket_boundaries_s[i - 1])
      r.fail("buckets", "expected strictly ascending durations");
  }
  c.max_frames_per_batch = r.get_int("max_frames_per_batch", c.max_frames_per_batch, 1);
  c.max_utterances_per_batch = r.get_int("max_utterances_per_batch", c.max_utterances_per_batch, 0);
  c.shuffle = r.get_bool("shuffle", c.shuffle);
  c.workers = r.get_int("workers", c.workers, 0, 256);
  c.prefetch = r.get_int("prefetch", c.prefetch, 1, 4096);
  c.feature_cache_mb = r.get_int("feature_cache_mb", c.feature_cache_mb, 0, int64_t{1} << 30);
  return c;
}

Corpus read_speech_corpus(const SpeechDataConfig& c, bool validation) {
  const std::string& path = validation ? c.val_path : c.path;
  if (path.empty()) return {};
  Corpus corpus = c.format == "librispeech" ? read_librispeech(path) : read_manifest(path);
  if (!validation && c.max_duration_s > 0)
    std::erase_if(corpus, [&](const Utterance& u) { return u.duration_s > c.max_duration_s; });
  return corpus;
}

std::shared_ptr<const CtcVocab> make_vocab(const SpeechDataConfig& c, const Corpus& train) {
  if (!c.vocab_path.empty()) return load_ctc_vocab(c.vocab_path);
  if (c.vocab_kind == "fixed") return std::make_shared<CharVocab>(CharVocab::english(c.pipeline.text.letter_case));
  std::vector<std::string> texts;
  for (const auto& u : train) texts.push_back(normalize_text(u.text, c.pipeline.text));
  if (c.vocab_kind == "build") return std::make_shared<CharVocab>(CharVocab::build(texts));
  try {
    return std::make_shared<SentencePieceVocab>(SentencePieceVocab::prepare(texts, c.sentencepiece, c.vocab_cache_dir));
  } catch (const std::exception& e) {
    // SentencePiece's own message counts the model's pieces (CTC ids + 257); say what it means for vocab_size.
    std::set<std::string> alphabet = {" "};
    for (const auto& t : texts)
      for (auto& ch : utf8_chars(t)) alphabet.insert(std::move(ch));
    throw config::ConfigError(c.section + ".vocabulary: cannot build a SentencePiece " + c.sentencepiece.model_type +
                              " vocabulary of vocab_size " + std::to_string(c.sentencepiece.vocab_size) +
                              " (CTC ids, blank included) from " + std::to_string(texts.size()) +
                              " training transcripts of " + std::to_string(alphabet.size()) +
                              " distinct characters (space included), which need about vocab_size >= " +
                              std::to_string(alphabet.size() + 1) + ": " + e.what());
  }
}

DurationBucketOptions bucket_options(const SpeechDataConfig& c, uint64_t seed, bool shuffle) {
  const FeatureOptions& f = c.pipeline.features;
  const FrameGeometry g = resolve_frames(f);
  DurationBucketOptions o;
  for (double s : c.bucket_boundaries_s)
    o.boundaries_frames.push_back(g.frame_count(static_cast<int64_t>(std::llround(s * static_cast<double>(f.sample_rate_hz)))));
  o.max_frames_per_batch = c.max_frames_per_batch;
  o.max_utterances_per_batch = c.max_utterances_per_batch;
  o.shuffle = shuffle && c.shuffle;
  o.seed = seed;
  return o;
}

}  // namespace sigtrain::speech
