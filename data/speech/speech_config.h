#pragma once
// The speech data section of a run config, read key by key through config::SectionReader (unknown keys are errors,
// every resolved value is recorded). Which section it lives in is the caller's choice (e.g. `data` with
// `data.kind: speech`, or `data.speech`); the reader passed in is that section. The run seed (SpecAugment, batch
// order) is the trainer's, not a key here.
//
//   format: librispeech            # librispeech | manifest
//   path: data/LibriSpeech/train-clean-100   # librispeech: the root folder; manifest: a .jsonl / .json / .tsv file
//   val_path: ""                   # validation set in the same format ("" = none); paths resolve against the config
//   sample_rate: 16000             # model rate (Hz): every file is resampled to it
//   resample_quality: medium       # best | medium | fastest | linear | zero_order_hold (libsamplerate)
//   max_duration_s: 0              # drop longer training utterances (0 = keep all)
//   features:
//     n_mels: 80
//     win_ms: 25                   # analysis window ...
//     hop_ms: 10                   # ... and hop, in milliseconds
//     win_samples: 0               # > 0: window in samples, overrides win_ms
//     hop_samples: 0               # > 0: hop in samples, overrides hop_ms
//     n_fft: 0                     # 0 = next power of two >= window
//     window: hann                 # hann | hamming (periodic)
//     preemphasis: 0.97            # 0 = off
//     mel_scale: htk               # htk | slaney
//     mel_norm: none               # none | slaney (equal-area filters)
//     f_min: 0                     # Hz
//     f_max: 0                     # Hz, 0 = sample_rate / 2
//     log_floor: 1e-10             # log(max(energy, log_floor))
//   normalisation:
//     mode: utterance              # none | utterance | global
//     stats_path: ""               # global: load these stats (JSON) instead of computing them
//     max_utterances: 2000         # global: training utterances the stats are computed over (0 = all)
//   specaugment:
//     enabled: true                # training batches only
//     freq_masks: 2
//     freq_mask_max: 27            # F: mel bins per frequency mask, at most
//     time_masks: 2
//     time_mask_max: 40            # T: frames per time mask, at most
//     time_mask_max_fraction: 1.0  # p: time masks <= p x frames as well (1 = no cap)
//   vocabulary:
//     kind: fixed                  # fixed (blank, space, ', a-z) | build (characters of the training transcripts)
//                                  # | sentencepiece (subword pieces trained on them, sentencepiece_vocab.h)
//     path: ""                     # load a saved vocabulary instead (e.g. the run's vocab.json; either kind)
//     case: lower                  # lower | upper: the case transcripts are folded to
//     strip_punctuation: true      # all ASCII punctuation but the apostrophe becomes a space
//     unknown: drop                # drop | error: characters outside the vocabulary
//     vocab_size: 256              # sentencepiece only: CTC ids wanted, blank included (a soft limit)
//     model_type: unigram          # sentencepiece only: unigram | bpe
//     cache_dir: .cache/sigtrain   # sentencepiece only: models are cached in <cache_dir>/speech/vocab/ (relative to
//                                  # the working directory, as data.cache_dir of the LM)
//   buckets: [2, 4, 8, 16]         # duration bucket upper bounds in seconds (inclusive); [] = one bucket
//   max_frames_per_batch: 20000    # padded feature frames per batch (batch size x longest)
//   max_utterances_per_batch: 0    # 0 = no limit
//   shuffle: true                  # per-epoch batch order from the run seed
//   workers: 2                     # loader threads (0 = synchronous)
//   prefetch: 4                    # batches prepared ahead of the consumer
//   feature_cache_mb: 2048         # training log-mel kept in memory after the first epoch (0 = off; same results)
#include <cstdint>
#include <string>
#include <vector>

#include "common/config.h"
#include "data/speech/ctc_vocab.h"
#include "data/speech/duration_buckets.h"
#include "data/speech/sentencepiece_vocab.h"
#include "data/speech/speech_dataset.h"
#include "data/speech/utterance.h"

namespace sigtrain::speech {

struct SpeechDataConfig {
  std::string format = "librispeech";
  std::string path;
  std::string val_path;
  double max_duration_s = 0.0;
  SpeechPipelineOptions pipeline;  // features (incl. sample rate), resampling, normalisation mode, SpecAugment, text
  std::string stats_path;
  int64_t stats_max_utterances = 2000;
  std::string vocab_kind = "fixed";  // fixed | build | sentencepiece
  std::string vocab_path;
  SentencePieceVocabOptions sentencepiece;  // kind: sentencepiece
  std::string vocab_cache_dir = ".cache/sigtrain";
  std::string section = "data";  // where the keys were read (parse_speech_data_config), for errors
  std::vector<double> bucket_boundaries_s = {2, 4, 8, 16};
  int64_t max_frames_per_batch = 20000;
  int64_t max_utterances_per_batch = 0;
  bool shuffle = true;
  int64_t workers = 2;
  int64_t prefetch = 4;
  int64_t feature_cache_mb = 2048;
};

// Reads every key above (defaults as shown); ConfigError on bad values. `path` is required.
SpeechDataConfig parse_speech_data_config(config::SectionReader& section);

// The training (validation = false) or validation corpus; max_duration_s applies to training only.
Corpus read_speech_corpus(const SpeechDataConfig& config, bool validation);

// The vocabulary the config asks for: loaded from vocab_path, fixed, or built from `train` (normalised first): its
// characters, or a SentencePiece model trained on it (cached; ConfigError naming <section>.vocabulary when that fails).
std::shared_ptr<const CtcVocab> make_vocab(const SpeechDataConfig& config, const Corpus& train);

// Bucket boundaries converted from seconds to frames at the feature geometry; `seed` is the run seed.
DurationBucketOptions bucket_options(const SpeechDataConfig& config, uint64_t seed, bool shuffle);

}  // namespace sigtrain::speech
