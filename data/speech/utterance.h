#pragma once
// One utterance of a corpus, as the corpus readers return it (no audio loaded).
#include <string>
#include <vector>

namespace sigtrain::speech {

struct Utterance {
  std::string id;          // unique within the corpus (LibriSpeech: "<speaker>-<chapter>-<utt>")
  std::string audio_path;  // absolute, or relative to the working directory
  double duration_s = 0.0; // from the manifest, or the audio header (LibriSpeech)
  std::string text;        // the transcript as written in the corpus (not normalised)
  std::string speaker;     // LibriSpeech speaker id; "" for manifests
  std::string source;      // "<file>:<line>" the utterance came from, for error messages
};

using Corpus = std::vector<Utterance>;

}  // namespace sigtrain::speech
