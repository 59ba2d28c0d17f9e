#include "trainer/loop/run_files.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "common/atomic_file.h"

namespace sigtrain::trainer {

MetricsWriter::MetricsWriter(const std::string& path, int64_t truncate_after_step) : path_(path) {
  if (truncate_after_step >= 0 && std::filesystem::exists(path)) {
    std::ifstream in(path);
    std::string kept, line;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      auto rec = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (rec.is_discarded()) continue;  // a line cut by a crash
      if (rec.contains("step") && rec["step"].get<int64_t>() > truncate_after_step) continue;
      kept += line + "\n";
    }
    write_file_atomic(path, kept);
  }
  file_ = std::fopen(path.c_str(), "a");
  if (!file_) throw std::runtime_error(path + ": cannot open metrics file for appending");
}

MetricsWriter::~MetricsWriter() {
  if (file_) std::fclose(file_);
}

void MetricsWriter::write(const nlohmann::json& record) {
  std::string line = record.dump() + "\n";
  std::fwrite(line.data(), 1, line.size(), file_);
  std::fflush(file_);
}

void record_progress(RunSummary& s, const TrainState& state) {
  s.last_step = state.step;
  s.tokens_seen = state.tokens_seen;
  s.final_train_loss = state.last_train_loss;
  s.final_val_loss = state.last_val_loss;
  if (std::isfinite(state.best_val_loss)) s.best_val_loss = state.best_val_loss;  // infinity = never evaluated
}

void write_summary(const std::string& path, const RunSummary& s, const nlohmann::json& extra) {
  nlohmann::json j = extra;
  j["status"] = s.status;
  if (!s.reason.empty()) j["reason"] = s.reason;
  j["last_step"] = s.last_step;
  if (s.diverged_step >= 0) j["diverged_step"] = s.diverged_step;
  // Unmeasured numbers are null, never 0. (JSON has no NaN or infinity: nlohmann writes a non-finite number as null.)
  auto measured = [](const std::optional<double>& v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); };
  j["final_train_loss"] = measured(s.final_train_loss);
  j["final_val_loss"] = measured(s.final_val_loss);
  j["best_val_loss"] = measured(s.best_val_loss);
  j["wall_time_s"] = s.wall_time_s;
  j["tokens_per_s"] = measured(s.tokens_per_s);
  j["tokens_seen"] = s.tokens_seen;
  j["param_checksum"] = s.param_checksum.empty() ? nlohmann::json(nullptr) : nlohmann::json(s.param_checksum);
  write_file_atomic(path, j.dump(2) + "\n");
}

}  // namespace sigtrain::trainer
