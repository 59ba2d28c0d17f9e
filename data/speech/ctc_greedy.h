#pragma once
// Greedy (best-path) CTC decoding, torch-free: the per-frame argmax ids, then merge repeats and drop blanks
// ("a a <b> a b b" -> "a a b": a blank between two equal ids keeps both). Prefix beam search: ctc_beam.h.
#include <cstdint>
#include <string>
#include <vector>

#include "data/speech/ctc_vocab.h"

namespace sigtrain::speech {

// Merge consecutive repeats, then drop `blank`.
std::vector<int32_t> ctc_collapse(const std::vector<int32_t>& frame_ids, int32_t blank = CtcVocab::kBlank);

// Per-frame argmax of logits [frames, vocab] row-major (first maximum on ties).
std::vector<int32_t> argmax_ids(const float* logits, int64_t frames, int64_t vocab);

// ctc_collapse then the vocabulary's symbols.
std::string ctc_greedy_text(const std::vector<int32_t>& frame_ids, const CtcVocab& vocab);

}  // namespace sigtrain::speech
