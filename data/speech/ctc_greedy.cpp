#include "data/speech/ctc_greedy.h"

namespace sigtrain::speech {

std::vector<int32_t> ctc_collapse(const std::vector<int32_t>& frame_ids, int32_t blank) {
  std::vector<int32_t> out;
  int32_t previous = blank;  // so the first non-blank id always starts a new symbol
  for (int32_t id : frame_ids) {
    if (id != blank && id != previous) out.push_back(id);
    previous = id;
  }
  return out;
}

std::vector<int32_t> argmax_ids(const float* logits, int64_t frames, int64_t vocab) {
  std::vector<int32_t> ids(static_cast<size_t>(frames), 0);
  for (int64_t t = 0; t < frames; ++t) {
    const float* row = logits + t * vocab;
    int64_t best = 0;
    for (int64_t v = 1; v < vocab; ++v)
      if (row[v] > row[best]) best = v;
    ids[static_cast<size_t>(t)] = static_cast<int32_t>(best);
  }
  return ids;
}

std::string ctc_greedy_text(const std::vector<int32_t>& frame_ids, const CtcVocab& vocab) {
  return vocab.decode(ctc_collapse(frame_ids, CtcVocab::kBlank));
}

}  // namespace sigtrain::speech
