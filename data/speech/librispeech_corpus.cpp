#include "data/speech/librispeech_corpus.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <unordered_map>

#include "data/speech/audio_file.h"
#include "data/speech/speech_error.h"

namespace fs = std::filesystem;

namespace sigtrain::speech {
namespace {

constexpr std::string_view kTranscriptSuffix = ".trans.txt";

std::vector<fs::path> transcript_files(const fs::path& root) {
  if (!fs::is_directory(root)) throw_data_error(root.string(), 0, "LibriSpeech root is not a directory");
  std::vector<fs::path> files;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && name.size() > kTranscriptSuffix.size() && name.ends_with(kTranscriptSuffix))
      files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  if (files.empty())
    throw_data_error(root.string(), 0, "no <speaker>-<chapter>.trans.txt files found (expected the LibriSpeech layout)");
  return files;
}

std::string find_audio(const fs::path& folder, const std::string& id, const std::string& file, int64_t line) {
  for (const char* ext : {".flac", ".wav"}) {
    const fs::path p = folder / (id + ext);
    if (fs::exists(p)) return p.string();
  }
  throw_data_error(file, line, "missing audio for '" + id + "': neither " + (folder / (id + ".flac")).string() +
                                   " nor .wav exists");
}

}  // namespace

Corpus read_librispeech(const std::string& root) {
  Corpus corpus;
  std::unordered_map<std::string, std::string> first_seen;  // id -> "<file>:<line>"
  for (const fs::path& trans : transcript_files(root)) {
    const std::string file = trans.string();
    const std::string name = trans.filename().string();
    const std::string prefix = name.substr(0, name.size() - kTranscriptSuffix.size()) + "-";
    std::ifstream in(trans);
    if (!in) throw_data_error(file, 0, "cannot open");
    std::string text;
    int64_t line = 0;
    while (std::getline(in, text)) {
      ++line;
      if (!text.empty() && text.back() == '\r') text.pop_back();
      if (text.find_first_not_of(" \t") == std::string::npos) continue;
      const size_t space = text.find(' ');
      if (space == 0 || text[0] == '\t')
        throw_data_error(file, line, "transcript line without an id (expected 'UTTID TRANSCRIPT')");
      if (space == std::string::npos || text.find_first_not_of(' ', space) == std::string::npos)
        throw_data_error(file, line, "no transcript after the id (expected 'UTTID TRANSCRIPT')");
      Utterance u;
      u.id = text.substr(0, space);
      u.text = text.substr(text.find_first_not_of(' ', space));
      u.source = file + ":" + std::to_string(line);
      if (!u.id.starts_with(prefix) || u.id.size() == prefix.size())
        throw_data_error(file, line, "id '" + u.id + "' does not start with this file's '" + prefix + "'");
      if (auto [it, inserted] = first_seen.emplace(u.id, u.source); !inserted)
        throw_data_error(file, line, "duplicate id '" + u.id + "' (first at " + it->second + ")");
      u.speaker = prefix.substr(0, prefix.find('-'));
      u.audio_path = find_audio(trans.parent_path(), u.id, file, line);
      try {
        u.duration_s = read_audio_info(u.audio_path).duration_s();
      } catch (const SpeechDataError& e) {
        throw_data_error(file, line, e.what());
      }
      corpus.push_back(std::move(u));
    }
  }
  return corpus;
}

}  // namespace sigtrain::speech
