#include "trainer/loop/run_files.h"

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

void write_summary(const std::string& path, const RunSummary& s, const nlohmann::json& extra) {
  nlohmann::json j = extra;
  j["status"] = s.status;
  if (!s.reason.empty()) j["reason"] = s.reason;
  j["last_step"] = s.last_step;
  if (s.diverged_step >= 0) j["diverged_step"] = s.diverged_step;
  // (JSON has no NaN or infinity: nlohmann writes a non-finite number as null too.)
  auto loss = [](const std::optional<double>& v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); };
  j["final_train_loss"] = loss(s.final_train_loss);
  j["final_val_loss"] = loss(s.final_val_loss);
  j["best_val_loss"] = loss(s.best_val_loss);
  j["wall_time_s"] = s.wall_time_s;
  j["tokens_per_s"] = s.tokens_per_s;
  j["tokens_seen"] = s.tokens_seen;
  j["param_checksum"] = s.param_checksum;
  write_file_atomic(path, j.dump(2) + "\n");
}

}  // namespace sigtrain::trainer
