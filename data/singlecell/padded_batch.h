#pragma once
// Token sequences of one batch laid out as dense [batch, max_len] arrays (row-major), ready to wrap as tensors
// (torch::from_blob) by the model side, plus the masked-expression positions. Torch-free.
//
// Masking (mask_fraction > 0): in each cell with at least one gene token, m = max(1, round(fraction * genes))
// gene positions (never <cls> at position 0, never padding) are chosen uniformly without replacement by a
// generator seeded with (seed, epoch, cell index), so a cell's mask is the same whatever batch it lands in and
// changes from epoch to epoch. How a masked position is presented (value replaced for scGPT-style value
// prediction, gene token replaced by <mask> for Geneformer-style) is the objective's choice; `mask` only marks it.
#include <cstdint>
#include <vector>

#include "data/singlecell/tokenizer.h"

namespace sigtrain::singlecell {

struct PaddedBatch {
  int64_t batch = 0;
  int64_t max_len = 0;
  std::vector<int32_t> genes;    // [batch * max_len], GeneVocab::kPad (0) past each length
  std::vector<float> values;     // [batch * max_len], 0 past each length
  std::vector<uint8_t> mask;     // [batch * max_len], 1 = masked position (empty when mask_fraction == 0)
  std::vector<int32_t> lengths;  // [batch], per-sequence lengths (<cls> included)
  std::vector<int32_t> labels;   // [batch], label ids (-1 = none); empty when no labels were given
  std::vector<int64_t> cells;    // [batch], dataset row of each sequence
  int64_t tokens() const;        // sum of lengths
};

// `labels_of_cell`: per dataset row (may be empty). Sequences keep the order given. The width (max_len) is
// padded_width(longest cell, pad_to_multiple, max_width) (length_buckets.h); the masks do not depend on it.
PaddedBatch make_padded_batch(const std::vector<TokenizedCell>& cells, const std::vector<int32_t>& labels_of_cell,
                              double mask_fraction, uint64_t seed, uint64_t epoch, int64_t pad_to_multiple = 1,
                              int64_t max_width = 0);

}  // namespace sigtrain::singlecell
