#pragma once
// CTC prefix beam search (Hannun et al. 2014, "First-pass large vocabulary continuous speech recognition using
// bi-directional recurrent DNNs", without a language model) and the exact probability of a label sequence, torch-free.
// Greedy decoding: ctc_greedy.h.
//
// Input: log-probabilities [frames, vocab] row-major (a log_softmax over the vocabulary per frame), id `blank` the
// CTC blank. The search keeps, per frame, the `beam_width` most probable label prefixes, each with its probability
// split into "ends in blank" and "ends in a label", so that all alignments of a prefix are summed (a prefix's score
// is P(prefix | frames so far), not one path's). Per frame and kept prefix it tries every label whose log-probability
// is within `prune_nats` of the frame's most probable one. Probabilities are kept relative to the frame's best
// prefix (one multiplication per candidate, no exp/log in the inner loop); the scale goes into a log-sum.
//
// The final prefixes (and, with `with_greedy`, the greedy hypothesis) are rescored with the exact CTC forward
// probability, so:
//   * with a beam wide enough to hold every prefix and no pruning, the result is the most probable label sequence,
//     max_y P(y | x), exactly (tested against enumerating every alignment);
//   * with `with_greedy` the result is never less probable than greedy decoding's;
//   * with beam_width 1 (and without with_greedy) it is greedy decoding whenever every frame has one label of
//     probability >= 0.9, a case where both must agree (tested).
//
// Cost, per utterance of T frames over V labels with beam B: O(T · B · K) for the search (K = labels tried per frame:
// V without pruning, a handful on a trained model), plus O(T · (2L + 1)) per final hypothesis of L labels for the
// rescoring. docs/speech.md §2 has measured times.
#include <cstdint>
#include <vector>

namespace sigtrain::speech {

struct CtcBeamOptions {
  int64_t beam_width = 16;  // prefixes kept per frame (>= 1)
  double prune_nats = 10.0;  // labels more than this below the frame's most probable one are not tried; 0 = none
  bool with_greedy = true;   // the greedy hypothesis joins the final candidates
  int32_t blank = 0;
};

struct CtcHypothesis {
  std::vector<int32_t> labels;  // collapsed: no blanks, repeats merged
  double log_prob = 0;          // exact log P(labels | log_probs), summed over all alignments
};

// The final hypotheses, most probable first (ties in search order): at most beam_width, plus the greedy one when
// with_greedy and not among them. frames == 0 gives the empty sequence with log_prob 0. std::invalid_argument for
// a bad option or shape.
std::vector<CtcHypothesis> ctc_beam_search(const float* log_probs, int64_t frames, int64_t vocab,
                                           const CtcBeamOptions& options = {});

// log P(labels | log_probs): the CTC forward algorithm (scaled per frame, in double; falls back to log space where
// that underflows). -infinity when the labels cannot be aligned in `frames` (fewer frames than labels plus adjacent
// repeats). Labels must be in [0, vocab) and not `blank`.
double ctc_log_prob(const float* log_probs, int64_t frames, int64_t vocab, const std::vector<int32_t>& labels,
                    int32_t blank = 0);

}  // namespace sigtrain::speech
