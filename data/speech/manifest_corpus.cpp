#include "data/speech/manifest_corpus.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <unordered_map>

#include "data/speech/speech_error.h"

namespace fs = std::filesystem;

namespace sigtrain::speech {
namespace {

struct ManifestLine {
  std::string path, text, id;
  double duration_s = 0.0;
};

ManifestLine parse_json_line(const std::string& text, const std::string& file, int64_t line) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw_data_error(file, line, std::string("bad JSON: ") + e.what());
  }
  if (!j.is_object()) throw_data_error(file, line, "expected a JSON object {\"path\", \"duration\", \"text\"}");
  auto field = [&](const char* key, bool (nlohmann::json::*is_type)() const noexcept, const char* type) {
    if (!j.contains(key))
      throw_data_error(file, line, std::string("missing field '") + key +
                                       "' (expected {\"path\": ..., \"duration\": ..., \"text\": ...})");
    if (!(j.at(key).*is_type)()) throw_data_error(file, line, std::string("field '") + key + "' must be a " + type);
    return j.at(key);
  };
  ManifestLine m;
  m.path = field("path", &nlohmann::json::is_string, "string").get<std::string>();
  m.duration_s = field("duration", &nlohmann::json::is_number, "number").get<double>();
  m.text = field("text", &nlohmann::json::is_string, "string").get<std::string>();
  if (j.contains("id")) m.id = field("id", &nlohmann::json::is_string, "string").get<std::string>();
  return m;
}

ManifestLine parse_tsv_line(const std::string& text, const std::string& file, int64_t line) {
  const size_t tab1 = text.find('\t');
  const size_t tab2 = tab1 == std::string::npos ? tab1 : text.find('\t', tab1 + 1);
  if (tab2 == std::string::npos)
    throw_data_error(file, line, "expected three tab-separated columns: path<TAB>duration<TAB>text");
  ManifestLine m;
  m.path = text.substr(0, tab1);
  m.text = text.substr(tab2 + 1);
  const std::string duration = text.substr(tab1 + 1, tab2 - tab1 - 1);
  size_t used = 0;
  try {
    m.duration_s = std::stod(duration, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (duration.empty() || used != duration.size())
    throw_data_error(file, line, "duration '" + duration + "' is not a number of seconds");
  return m;
}

}  // namespace

Corpus read_manifest(const std::string& manifest_path) {
  const fs::path manifest(manifest_path);
  const std::string ext = manifest.extension().string();
  const bool tsv = ext == ".tsv";
  if (!tsv && ext != ".jsonl" && ext != ".json")
    throw_data_error(manifest_path, 0, "unknown manifest kind '" + ext + "' (expected .jsonl, .json or .tsv)");
  std::ifstream in(manifest);
  if (!in) throw_data_error(manifest_path, 0, "cannot open manifest");
  const fs::path folder = manifest.parent_path();

  Corpus corpus;
  std::unordered_map<std::string, int64_t> first_line;
  std::string text;
  int64_t line = 0;
  while (std::getline(in, text)) {
    ++line;
    if (!text.empty() && text.back() == '\r') text.pop_back();
    if (text.find_first_not_of(" \t") == std::string::npos) continue;
    if (tsv && corpus.empty() && text == "path\tduration\ttext") continue;
    ManifestLine m = tsv ? parse_tsv_line(text, manifest_path, line) : parse_json_line(text, manifest_path, line);
    if (m.path.empty()) throw_data_error(manifest_path, line, "empty audio path");
    if (!std::isfinite(m.duration_s) || m.duration_s < 0.0)
      throw_data_error(manifest_path, line, "duration must be a finite number of seconds >= 0");
    const fs::path audio = fs::path(m.path).is_absolute() ? fs::path(m.path) : folder / m.path;
    if (!fs::exists(audio)) throw_data_error(manifest_path, line, "missing audio file " + audio.string());
    Utterance u;
    u.id = m.id.empty() ? fs::path(m.path).replace_extension().generic_string() : m.id;
    u.audio_path = audio.string();
    u.duration_s = m.duration_s;
    u.text = std::move(m.text);
    u.source = manifest_path + ":" + std::to_string(line);
    if (auto [it, inserted] = first_line.emplace(u.id, line); !inserted)
      throw_data_error(manifest_path, line, "duplicate id '" + u.id + "' (first at line " + std::to_string(it->second) + ")");
    corpus.push_back(std::move(u));
  }
  if (corpus.empty()) throw_data_error(manifest_path, 0, "empty manifest (no utterances)");
  return corpus;
}

}  // namespace sigtrain::speech
