#include "data/singlecell/padded_batch.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "data/singlecell/gene_vocab.h"
#include "data/singlecell/length_buckets.h"
#include "common/splitmix64.h"

namespace sigtrain::singlecell {
int64_t PaddedBatch::tokens() const {
  int64_t t = 0;
  for (int32_t l : lengths) t += l;
  return t;
}

PaddedBatch make_padded_batch(const std::vector<TokenizedCell>& cells, const std::vector<int32_t>& labels_of_cell,
                              double mask_fraction, uint64_t seed, uint64_t epoch, int64_t pad_to_multiple,
                              int64_t max_width) {
  PaddedBatch b;
  b.batch = static_cast<int64_t>(cells.size());
  for (const auto& c : cells) b.max_len = std::max(b.max_len, c.length());
  b.max_len = padded_width(b.max_len, pad_to_multiple, max_width);
  const size_t slots = static_cast<size_t>(b.batch * b.max_len);
  b.genes.assign(slots, GeneVocab::kPad);
  b.values.assign(slots, 0.0f);
  if (mask_fraction > 0.0) b.mask.assign(slots, 0);
  std::vector<size_t> pos;
  for (int64_t i = 0; i < b.batch; ++i) {
    const auto& c = cells[static_cast<size_t>(i)];
    const int64_t len = c.length();
    std::copy(c.genes.begin(), c.genes.end(), b.genes.begin() + i * b.max_len);
    std::copy(c.values.begin(), c.values.end(), b.values.begin() + i * b.max_len);
    b.lengths.push_back(static_cast<int32_t>(len));
    b.cells.push_back(c.cell);
    if (!labels_of_cell.empty()) {
      b.labels.push_back(c.cell >= 0 && c.cell < static_cast<int64_t>(labels_of_cell.size())
                             ? labels_of_cell[static_cast<size_t>(c.cell)]
                             : -1);
    }
    const int64_t n_genes = len - 1;
    if (mask_fraction <= 0.0 || n_genes < 1) continue;
    const int64_t m = std::clamp<int64_t>(std::llround(mask_fraction * static_cast<double>(n_genes)), 1, n_genes);
    pos.resize(static_cast<size_t>(n_genes));
    std::iota(pos.begin(), pos.end(), size_t{1});
    uint64_t state = splitmix64(seed ^ splitmix64(epoch ^ splitmix64(static_cast<uint64_t>(c.cell))));
    for (int64_t k = 0; k < m; ++k) {
      state = splitmix64(state);
      const size_t j = static_cast<size_t>(k) + static_cast<size_t>(state % static_cast<uint64_t>(n_genes - k));
      std::swap(pos[static_cast<size_t>(k)], pos[j]);
      b.mask[static_cast<size_t>(i * b.max_len) + pos[static_cast<size_t>(k)]] = 1;
    }
  }
  return b;
}

}  // namespace sigtrain::singlecell
