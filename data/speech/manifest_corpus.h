#pragma once
// Manifest corpora: one utterance per line, audio paths relative to the manifest's folder (absolute paths allowed).
//   .jsonl / .json : {"path": "a/b.wav", "duration": 1.93, "text": "hello world"}   optional "id" (string)
//   .tsv           : path<TAB>duration<TAB>text                    an optional first line "path\tduration\ttext"
// The id is "id" when given, else the path without its extension (unique as long as paths are). Blank lines are
// skipped. duration is in seconds (>= 0); it plans the batches, the audio itself sets the features' length.
//
// Errors (SpeechDataError, "<manifest>:<line>: ..."): bad JSON (with the parser's message), a line that is not an
// object, a missing or ill-typed field, a TSV line without three tab-separated columns, a bad duration, missing
// audio (naming the resolved path), a duplicate id (naming the first line); and an empty manifest.
#include <string>

#include "data/speech/utterance.h"

namespace sigtrain::speech {

Corpus read_manifest(const std::string& manifest_path);

}  // namespace sigtrain::speech
