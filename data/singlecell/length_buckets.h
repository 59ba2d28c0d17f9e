#pragma once
// Batching by length buckets. Cells are sequences of different lengths (200 to 16,000+ genes); a batch is padded
// to its longest sequence, so mixing short and long cells wastes slots. Cells are grouped into buckets by length
// (bucket i holds lengths in (boundaries[i-1], boundaries[i]], the last bucket everything longer), shuffled
// within their bucket, cut into batches, and the batches shuffled, all from one seed, so a plan is reproducible.
//
//   padding fraction = padded slots / total slots = 1 - sum(lengths) / sum over batches(batch size * longest).
//
// With no boundaries this is plain shuffled batching (the baseline to compare against).
#include <cstdint>
#include <vector>

namespace sigtrain::singlecell {

struct BucketOptions {
  std::vector<int64_t> boundaries;   // ascending upper bounds of the buckets (inclusive)
  int64_t batch_size = 32;           // cells per batch (when max_tokens_per_batch == 0)
  int64_t max_tokens_per_batch = 0;  // > 0: cells per batch = max(1, max_tokens / longest length of the bucket)
  bool shuffle = true;
  bool drop_last = false;            // drop each bucket's last, smaller batch
  uint64_t seed = 0;
  int64_t pad_to_multiple = 1;       // padded length: the longest rounded up to a multiple of this ...
  int64_t max_width = 0;             // ... but no more than this unless the longest is (0: no bound)
};

// The padded length of a batch whose longest sequence is `longest` (BucketOptions::pad_to_multiple, max_width);
// make_padded_batch pads to the same.
int64_t padded_width(int64_t longest, int64_t pad_to_multiple, int64_t max_width);

struct CellBatch {
  std::vector<int64_t> cells;  // dataset row indices
  int64_t max_len = 0;         // the padded length: the longest sequence (rounded up as the options say)
  int64_t tokens = 0;          // sum of the sequence lengths
  int64_t slots() const { return max_len * static_cast<int64_t>(cells.size()); }
};

struct BatchPlan {
  std::vector<CellBatch> batches;
  int64_t tokens = 0;  // real tokens
  int64_t slots = 0;   // batch size x padded length, summed
  double padding_fraction() const {
    return slots == 0 ? 0.0 : 1.0 - static_cast<double>(tokens) / static_cast<double>(slots);
  }
};

// `lengths[c]` is cell c's sequence length; `cells` the rows to batch (e.g. the training split). `epoch` is mixed
// into the seed so each epoch gets a different, reproducible order.
BatchPlan plan_length_buckets(const std::vector<int64_t>& lengths, const std::vector<int64_t>& cells,
                              const BucketOptions& options, uint64_t epoch = 0);

}  // namespace sigtrain::singlecell
