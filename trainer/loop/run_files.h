#pragma once
// The run folder's record files: metrics.jsonl (one JSON object per logged step or evaluation, flushed per line)
// and summary.json (written atomically at the end). Torch-free.
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "trainer/loop/train_state.h"

namespace sigtrain::trainer {

class MetricsWriter {
 public:
  // Opens `path` for appending. With `truncate_after_step` >= 0 (a resume), records of later steps are dropped
  // first, so the file reads as one consistent run.
  MetricsWriter(const std::string& path, int64_t truncate_after_step);
  ~MetricsWriter();
  MetricsWriter(const MetricsWriter&) = delete;
  MetricsWriter& operator=(const MetricsWriter&) = delete;

  void write(const nlohmann::json& record);  // one line, flushed

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
};

struct RunSummary {
  std::string status = "running";  // completed | failed | diverged | interrupted
  std::string reason;              // for failed / diverged / interrupted
  int stop_signal = 0;             // interrupted: the signal that stopped the run (exit status 128 + it)
  int64_t last_step = 0;
  int64_t diverged_step = -1;
  // Losses that were never measured (a run that failed before its first logged step or evaluation) stay empty and
  // are written as null, never as a number.
  std::optional<double> final_train_loss;
  std::optional<double> final_val_loss;
  std::optional<double> best_val_loss;
  double wall_time_s = 0;
  std::optional<double> tokens_per_s;  // null when no step was timed
  int64_t tokens_seen = 0;
  std::string param_checksum;     // to compare runs (1 rank vs 2 ranks, resume); null when not taken (a failure)
};

// What a run that stopped with an error had reached: its step, tokens and the losses measured so far (a failed
// summary tells as much as is known and nothing more).
void record_progress(RunSummary& summary, const TrainState& state);

void write_summary(const std::string& path, const RunSummary& summary, const nlohmann::json& extra);

}  // namespace sigtrain::trainer
