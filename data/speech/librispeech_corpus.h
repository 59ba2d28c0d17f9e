#pragma once
// The LibriSpeech layout (openslr.org/12):
//   <root>/<speaker>/<chapter>/<speaker>-<chapter>-<utt>.flac
//   <root>/<speaker>/<chapter>/<speaker>-<chapter>.trans.txt     lines "<speaker>-<chapter>-<utt> TRANSCRIPT"
// Every *.trans.txt under root is read (in sorted path order, so the corpus order is the same on every machine);
// each line names one utterance whose audio is <id>.flac (or <id>.wav) next to the transcript. Durations come from
// the audio headers (libsndfile, no decoding).
//
// Errors (SpeechDataError, "<trans.txt>:<line>: ..."): a line without an id or without a transcript, an id that
// does not start with the file's "<speaker>-<chapter>-", a duplicate id (naming the first occurrence), missing
// audio (naming the paths tried), an unreadable audio header; and a root with no *.trans.txt at all.
#include <string>

#include "data/speech/utterance.h"

namespace sigtrain::speech {

Corpus read_librispeech(const std::string& root);

}  // namespace sigtrain::speech
