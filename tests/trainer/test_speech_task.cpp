// The speech (CTC) task end to end on CPU, on the five committed recordings of tests/fixtures/speech: the run
// folder's files, learning (a tiny model overfits them: CER falls), WER/CER in the eval record with greedy and beam
// decoding, the SentencePiece vocabulary, bit-exact resume with the prefetching loader and gradient accumulation,
// and config errors that name the key.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "common/config.h"
#include "data/speech/char_vocab.h"
#include "data/speech/sentencepiece_vocab.h"
#include "models/asr_encoder.h"
#include "tests/error_of.h"
#include "tests/trainer/training_fixture.h"
#include "trainer/loop/run_config.h"
#include "trainer/loop/trainer.h"
#include "trainer/tasks/speech_task.h"

namespace fs = std::filesystem;
using namespace sigtrain;

namespace {

const std::string kManifest = std::string(SIGTRAIN_SOURCE_DIR) + "/tests/fixtures/speech/manifest.jsonl";

// A 2-layer speech encoder on the fixtures (train = validation: the five utterances). max_duration_s 4 → 398
// frames → 98 positions per slot; micro-batches of at most 2 utterances (≤ 700 padded frames), 2 per step.
std::string write_speech_config(const fs::path& dir, const std::string& extra = "") {
  const std::string yaml =
      "data:\n  format: manifest\n  path: " + kManifest + "\n  val_path: " + kManifest +
      "\n  max_duration_s: 4\n  features:\n    n_mels: 40\n  buckets: []\n  max_frames_per_batch: 700\n"
      "  workers: 2\n  prefetch: 2\n"
      "model:\n  arch: asr\n  n_layer: 2\n  d_model: 64\n  n_head: 4\n  positions: sincos\n  mlp: gelu\n"
      "  speech:\n    conv_channels: 16\n"
      "attention:\n  kind: sigmoid\n  backend: math\n"
      "optim:\n  lr_peak: 0.003\n  clip: 1.0\n"
      "schedule:\n  kind: cosine\n  warmup_steps: 5\n"
      "train:\n  steps: 20\n  global_batch_tokens: 392\n  micro_batch_size: 2\n  device: cpu\n  threads: 1\n"
      "eval:\n  every: 10\n  batch_size: 4\n"
      "ctc:\n  examples: 2\n"
      "checkpoint:\n  every: 10\n  keep_last: 5\n"
      "logging:\n  every: 5\n  level: warn\n" +
      extra;
  const fs::path path = dir / "speech.yaml";
  std::ofstream(path) << yaml;
  return path.string();
}

int train_speech(const fs::path& dir, const std::string& name, const std::vector<std::string>& overrides = {}) {
  trainer::TrainOptions opts;
  opts.config_files = {write_speech_config(dir)};
  opts.overrides = overrides;
  opts.run_dir = (dir / name).string();
  return trainer::run_training(opts);
}

std::vector<nlohmann::json> eval_records(const fs::path& run) {
  std::vector<nlohmann::json> out;
  for (const auto& r : fixture::read_jsonl(run / "metrics.jsonl"))
    if (r["type"] == "eval") out.push_back(r);
  return out;
}

std::string config_error(const fs::path& dir, const std::vector<std::string>& overrides) {
  try {
    train_speech(dir, "bad", overrides);
  } catch (const config::ConfigError& e) {
    return e.what();
  }
  return "(no config error)";
}

}  // namespace

TEST(SpeechTask, RunFolderAndEvalRecord) {
  auto dir = fixture::fresh_dir("speech_files");
  ASSERT_EQ(train_speech(dir, "run", {"train.steps=4", "eval.every=4", "checkpoint.every=0"}), 0);
  for (const char* f : {"config.yaml", "metrics.jsonl", "summary.json", "vocab.json", "speech.json"})
    EXPECT_TRUE(fs::exists(dir / "run" / f)) << f;
  EXPECT_EQ(speech::CharVocab::load((dir / "run" / "vocab.json").string()).size(), 29);
  const auto info = fixture::read_json(dir / "run" / "speech.json");
  EXPECT_EQ(info["train_utterances"], 5);
  EXPECT_EQ(info["positions_per_slot"], 98);
  const auto evals = eval_records(dir / "run");
  ASSERT_EQ(evals.size(), 2u);  // steps 0 and 4
  for (const auto& r : evals) {
    for (const char* k : {"val_loss", "wer", "cer", "words", "chars", "examples"}) EXPECT_TRUE(r.contains(k)) << k;
    EXPECT_EQ(r["eval_utterances"], 5);
    EXPECT_EQ(r["words"], 1 + 2 + 9 + 8 + 8);  // "seven", "thank you", ... (reference words of the five)
    EXPECT_EQ(r["examples"].size(), 2u);
    EXPECT_EQ(r["examples"][0]["ref"], "seven");  // shortest first
  }
  const auto summary = fixture::read_json(dir / "run" / "summary.json");
  EXPECT_EQ(summary["task"], "speech");
  EXPECT_TRUE(summary["eval"].contains("cer"));
  EXPECT_EQ(summary["report_metrics"][0]["key"], "wer");
  EXPECT_EQ(summary["report_metrics"][0]["higher_is_better"], false);
  // Untrained: a CTC loss per character well above 1 nat.
  EXPECT_GT(evals[0]["val_loss"].get<double>(), 1.0);
}

TEST(SpeechTask, GreedyScoringOnAKnownCase) {
  // Frame-wise argmax "t t <b> h e e <b>   <b> c a t" → "the cat" against reference "the hat": 1 word substitution
  // of 2 words, 1 character substitution of 7 characters (the space counts).
  const speech::CharVocab vocab = speech::CharVocab::english(speech::LetterCase::kLower);
  const std::string frames = "tt_hee_ _cat";
  const int64_t T = static_cast<int64_t>(frames.size()), V = vocab.size();
  torch::Tensor logits = torch::zeros({1, T, V});
  for (int64_t t = 0; t < T; ++t) {
    const int32_t id = frames[t] == '_' ? speech::CharVocab::kBlank : vocab.id(std::string(1, frames[t]));
    logits[0][t][id] = 5.0;
  }
  speech::SpeechBatch sb;
  sb.batch_size = 1;
  sb.max_frames = 60;
  sb.n_mels = 1;
  sb.features.assign(60, 0.0f);
  sb.frame_lengths = {51};  // 51 frames → 12 positions
  ASSERT_EQ(models::SpeechModelConfig::positions(51), T);
  for (char ch : std::string("the hat")) sb.targets.push_back(vocab.id(std::string(1, ch)));
  sb.target_lengths = {7};
  const trainer::Batch batch = trainer::SpeechTask::to_batch(sb, torch::kCPU);
  EXPECT_EQ(batch.host_lengths[trainer::kPositionsRow][0].item<int64_t>(), 12);
  EXPECT_EQ(batch.host_lengths[trainer::kScoredTargetsRow][0].item<int64_t>(), 7);
  const trainer::DecodeScore s = trainer::SpeechTask::score_greedy(logits, batch, vocab);
  ASSERT_EQ(s.pairs.size(), 1u);
  EXPECT_EQ(s.pairs[0].first, "the hat");
  EXPECT_EQ(s.pairs[0].second, "the cat");
  EXPECT_EQ(s.counts, (std::vector<double>{1, 2, 1, 7, 1}));

  // eval_record turns summed counts into corpus-level rates.
  auto dir = fixture::fresh_dir("speech_record");
  trainer::RunConfig cfg = trainer::load_run_config({write_speech_config(dir)}, {});
  trainer::SpeechTask task(cfg.task_as<trainer::SpeechTaskConfig>(), 1, 2);
  const nlohmann::json r = task.eval_record(torch::tensor(std::vector<double>{3, 12, 5, 50, 4}, torch::kFloat64), 45);
  EXPECT_DOUBLE_EQ(r["wer"].get<double>(), 0.25);
  EXPECT_DOUBLE_EQ(r["cer"].get<double>(), 0.1);
  EXPECT_EQ(task.summary()["cer"], r["cer"]);
}

TEST(SpeechTask, BeamScoringOnAKnownCase) {
  // Two positions of P(blank, a, b) = (0.4, 0.35, 0.25): greedy decodes "" (P = 0.16), beam search "a" (P = 0.4025,
  // the sum of a a, a _, _ a). Reference "a": the beam is right, greedy deletes the word and its character.
  const speech::CharVocab vocab = speech::CharVocab::english(speech::LetterCase::kLower);
  const int32_t a = vocab.id("a"), b = vocab.id("b");
  torch::Tensor logits = torch::full({1, 2, vocab.size()}, -50.0);
  for (int64_t t = 0; t < 2; ++t) {
    logits[0][t][speech::CtcVocab::kBlank] = std::log(0.4);
    logits[0][t][a] = std::log(0.35);
    logits[0][t][b] = std::log(0.25);
  }
  speech::SpeechBatch sb;
  sb.batch_size = 1;
  sb.max_frames = 11;
  sb.n_mels = 1;
  sb.features.assign(11, 0.0f);
  sb.frame_lengths = {11};  // 11 frames → 2 positions
  ASSERT_EQ(models::SpeechModelConfig::positions(11), 2);
  sb.targets = {a};
  sb.target_lengths = {1};
  const trainer::Batch batch = trainer::SpeechTask::to_batch(sb, torch::kCPU);
  EXPECT_EQ(trainer::SpeechTask::score_greedy(logits, batch, vocab).pairs[0].second, "");
  speech::CtcBeamOptions o;
  o.beam_width = 4;
  const trainer::DecodeScore s = trainer::SpeechTask::score_beam(logits, batch, vocab, o, 2);
  ASSERT_EQ(s.pairs.size(), 1u);
  EXPECT_EQ(s.pairs[0].first, "a");
  EXPECT_EQ(s.pairs[0].second, "a");
  // beam: 0 of 1 words, 0 of 1 characters, 1 utterance; greedy: 1 word error, 1 character error.
  ASSERT_EQ(static_cast<int64_t>(s.counts.size()), trainer::SpeechTask::kBeamExtraCounts);
  EXPECT_EQ(s.counts, (std::vector<double>{0, 1, 0, 1, 1, 1, 1}));
}

TEST(SpeechTask, SmokeConfigDecodesWithBeamSearch) {
  // configs/speech/smoke_cpu.yaml as shipped (ctc.decode: beam), 100 of its 150 steps: the eval record reports the
  // beam's WER/CER beside greedy's, and the five utterances are learnt.
  auto dir = fixture::fresh_dir("speech_smoke_beam");
  trainer::TrainOptions opts;
  opts.config_files = {std::string(SIGTRAIN_SOURCE_DIR) + "/configs/speech/smoke_cpu.yaml"};
  opts.overrides = {"train.steps=100", "train.threads=1", "logging.level=warn"};  // 1 thread: CI shares 2 cores
  opts.run_dir = (dir / "run").string();
  ASSERT_EQ(trainer::run_training(opts), 0);
  const auto evals = eval_records(dir / "run");
  ASSERT_EQ(evals.size(), 3u);  // steps 0, 50, 100
  for (const auto& r : evals) {
    EXPECT_EQ(r["decode"], "beam");
    EXPECT_EQ(r["beam_width"], 8);
    for (const char* k : {"wer", "cer", "greedy_wer", "greedy_cer"}) ASSERT_TRUE(r[k].is_number()) << k << r.dump();
    EXPECT_EQ(r["words"], 28);
  }
  const auto& last = evals.back();
  EXPECT_LT(last["cer"].get<double>(), 0.5) << last.dump();
  EXPECT_LT(last["wer"].get<double>(), evals.front()["wer"].get<double>() + 1e-9) << last.dump();
  EXPECT_LT(last["val_loss"].get<double>(), evals.front()["val_loss"].get<double>());
  EXPECT_TRUE(fixture::read_json(dir / "run" / "summary.json")["eval"].contains("greedy_cer"));
}

TEST(SpeechTask, SentencePieceVocabulary) {
  // CTC targets as SentencePiece pieces trained on the five transcripts (cached in the test's folder): the run folder
  // holds the model with vocab.json, the references decode back to the transcripts (same word count as with
  // characters), a second task reuses the cache entry, and a checkpoint of another vocabulary is refused.
  auto dir = fixture::fresh_dir("speech_sentencepiece");
  const std::vector<std::string> sp_keys = {"data.vocabulary.kind=sentencepiece", "data.vocabulary.vocab_size=48",
                                            "data.vocabulary.model_type=bpe",
                                            "data.vocabulary.cache_dir=" + (dir / "cache").string()};
  std::vector<std::string> overrides = sp_keys;
  for (const char* o : {"train.steps=4", "eval.every=4", "checkpoint.every=0", "ctc.decode=beam", "ctc.beam_width=4"})
    overrides.emplace_back(o);
  ASSERT_EQ(train_speech(dir, "run", overrides), 0);
  ASSERT_TRUE(fs::exists(dir / "run" / "vocab.model"));
  const auto vocab = speech::load_ctc_vocab((dir / "run" / "vocab.json").string());
  EXPECT_EQ(vocab->kind(), "sentencepiece_ctc");
  EXPECT_LE(vocab->size(), 48);
  const auto info = fixture::read_json(dir / "run" / "speech.json");
  EXPECT_EQ(info["vocab_kind"], "sentencepiece_ctc");
  EXPECT_EQ(info["vocab_size"], vocab->size());
  EXPECT_EQ(info["vocab_identity"], vocab->identity());
  const auto evals = eval_records(dir / "run");
  ASSERT_EQ(evals.size(), 2u);
  EXPECT_EQ(evals.back()["words"], 1 + 2 + 9 + 8 + 8);
  EXPECT_EQ(evals.back()["examples"][0]["ref"], "seven");
  EXPECT_TRUE(evals.back()["wer"].is_number());
  // The model's vocab_size came from the vocabulary.
  EXPECT_EQ(fixture::read_json(dir / "run" / "summary.json")["task"], "speech");

  trainer::RunConfig cfg = trainer::load_run_config({write_speech_config(dir)}, sp_keys);
  trainer::SpeechTask task(cfg.task_as<trainer::SpeechTaskConfig>(), 1, 2);
  EXPECT_EQ(task.train_set().vocab().identity(), vocab->identity());  // the cached model
  nlohmann::json state = task.state();
  EXPECT_EQ(state["vocab_identity"], vocab->identity());
  state["vocab_identity"] = "sentencepiece_ctc/another";
  using sigtrain::testing::error_of;
  EXPECT_NE(error_of([&] { task.restore(state); }).find("another CTC vocabulary"), std::string::npos);
  trainer::RunConfig chars_cfg = trainer::load_run_config({write_speech_config(dir)}, {});
  trainer::SpeechTask chars(chars_cfg.task_as<trainer::SpeechTaskConfig>(), 1, 2);
  EXPECT_NE(error_of([&] { chars.restore(task.state()); }).find("another CTC vocabulary"), std::string::npos);
}

TEST(SpeechTask, TinyModelOverfitsTheFixtures) {
  // Five utterances, one bucket batch of all five per step, no SpecAugment: the character error rate on the same
  // utterances falls from ~1 (untrained: blanks or noise) to well below.
  auto dir = fixture::fresh_dir("speech_overfit");
  ASSERT_EQ(train_speech(dir, "run",
                         {"train.steps=150", "train.micro_batch_size=5", "train.global_batch_tokens=490",
                          "data.max_frames_per_batch=2000", "data.specaugment.enabled=false", "optim.lr_peak=0.003",
                          "schedule.kind=constant", "eval.every=150", "checkpoint.every=0",
                          "checkpoint.save_final=false"}),
            0);
  const auto evals = eval_records(dir / "run");
  ASSERT_EQ(evals.size(), 2u);
  const double first = evals.front()["cer"].get<double>(), last = evals.back()["cer"].get<double>();
  EXPECT_GT(first, 0.8);
  EXPECT_LT(last, 0.5) << "CER did not fall: " << first << " -> " << last << "; " << evals.back().dump();
  EXPECT_LT(evals.back()["val_loss"].get<double>(), evals.front()["val_loss"].get<double>());
}

TEST(SpeechTask, ResumeIsBitExact) {
  // 20 steps straight (checkpoints at 10 and 20) versus the same run "crashed" after step 10 and resumed in place:
  // the loader (2 worker threads), SpecAugment and two accumulated micro-batches per step continue exactly.
  auto dir = fixture::fresh_dir("speech_resume");
  ASSERT_EQ(train_speech(dir, "straight"), 0);
  fixture::copy_as_crashed_after_step_10(dir / "straight", dir / "crashed");
  ASSERT_EQ(fixture::resume_in_place(dir / "crashed"), 0);
  fixture::expect_same_summary(dir / "straight", dir / "crashed");
  fixture::expect_same_records(dir / "straight", dir / "crashed");
  const auto a = eval_records(dir / "straight"), b = eval_records(dir / "crashed");
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(a.back()["cer"], b.back()["cer"]);
}

TEST(SpeechTask, ConfigErrorsNameTheKey) {
  auto dir = fixture::fresh_dir("speech_cfgerr");
  struct Case {
    std::vector<std::string> overrides;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {{"data.max_utterances_per_batch=4"}, "data.max_utterances_per_batch: a training run batches at most"},
      {{"data.max_duration_s=0"}, "data.max_duration_s: required"},
      {{"data.val_path=\"\""}, "data.val_path: required"},
      {{"model.speech.n_mels=80"}, "model.speech.n_mels: 80 does not match data.features.n_mels 40"},
      {{"model.positions=rope", "model.max_seq_len=50"}, "model.max_seq_len: 50 positions"},
      {{"train.global_batch_tokens=500"},
       "train.global_batch_tokens: 500 is not a multiple of the encoder positions of a data.max_duration_s "
       "utterance = 98"},
      {{"ctc.exampels=1"}, "ctc.exampels: unknown key (did you mean `ctc.examples`?)"},
      {{"ctc.decode=viterbi"}, "ctc.decode: expected one of greedy | beam, got 'viterbi'"},
      {{"ctc.decode=beam", "ctc.beam_width=0"}, "ctc.beam_width: expected an integer in [1, 4096], got 0"},
      {{"ctc.beam_width=5000"}, "ctc.beam_width: expected an integer in [1, 4096], got 5000"},  // checked when greedy too
      {{"ctc.decode=beam", "ctc.beam_prune=-1"}, "ctc.beam_prune: expected a number"},
      {{"data.vocabulary.vocab_size=100"}, "data.vocabulary.vocab_size: only used with vocabulary.kind: sentencepiece"},
      {{"data.vocabulary.kind=sentencepiece", "data.vocabulary.model_type=word"},
       "data.vocabulary.model_type: expected one of unigram | bpe, got 'word'"},
      {{"model.arch=encoder", "model.positions=rope", "run.task=speech"},
       "model.arch: the speech task trains the speech encoder"},
  };
  for (const auto& c : cases) {
    const std::string what = config_error(dir, c.overrides);
    EXPECT_NE(what.find(c.expected), std::string::npos) << c.overrides.front() << ": " << what;
  }
  EXPECT_FALSE(fs::exists(dir / "bad" / "checkpoints"));

  // Known only once the validation set is read: RoPE's table (30 positions) is shorter than the longest validation
  // utterance (3.29 s: 81 positions) although training utterances (at most 1 s: 23 positions) fit. The run fails
  // before its first step, naming the key and the utterance (in the exception and in summary.json).
  std::string what = "(no error)";
  try {
    train_speech(dir, "short_table",
                 {"model.positions=rope", "model.max_seq_len=30", "data.max_duration_s=1",
                  "train.global_batch_tokens=92"});
  } catch (const std::exception& e) {
    what = e.what();
  }
  const std::string expected = "model.max_seq_len: 30 positions, but validation utterance 'asterisk/agent-pass'";
  EXPECT_NE(what.find(expected), std::string::npos) << what;
  const auto summary = fixture::read_json(dir / "short_table" / "summary.json");
  EXPECT_EQ(summary["status"], "failed");
  EXPECT_EQ(summary["last_step"], 0);
  EXPECT_NE(summary["reason"].get<std::string>().find(expected), std::string::npos) << summary["reason"];
}
