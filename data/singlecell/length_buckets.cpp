#include "data/singlecell/length_buckets.h"

#include <algorithm>
#include <stdexcept>

namespace sigtrain::singlecell {
namespace {

uint64_t next(uint64_t& s) {
  uint64_t z = (s += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

template <class T>
void shuffle(std::vector<T>& v, uint64_t& state) {
  for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[next(state) % i]);
}

}  // namespace

int64_t padded_width(int64_t longest, int64_t pad_to_multiple, int64_t max_width) {
  if (pad_to_multiple <= 1) return longest;
  int64_t width = (longest + pad_to_multiple - 1) / pad_to_multiple * pad_to_multiple;
  if (max_width > 0) width = std::min(width, max_width);
  return std::max(longest, width);
}

BatchPlan plan_length_buckets(const std::vector<int64_t>& lengths, const std::vector<int64_t>& cells,
                              const BucketOptions& o, uint64_t epoch) {
  if (o.batch_size < 1 && o.max_tokens_per_batch < 1) throw std::invalid_argument("plan_length_buckets: batch size < 1");
  if (!std::is_sorted(o.boundaries.begin(), o.boundaries.end())) {
    throw std::invalid_argument("plan_length_buckets: bucket boundaries must be ascending");
  }
  uint64_t state = o.seed * 0x2545F4914F6CDD1DULL + epoch + 1;
  std::vector<std::vector<int64_t>> buckets(o.boundaries.size() + 1);
  for (int64_t c : cells) {
    if (c < 0 || c >= static_cast<int64_t>(lengths.size())) throw std::out_of_range("plan_length_buckets: bad cell");
    const size_t b = std::lower_bound(o.boundaries.begin(), o.boundaries.end(), lengths[c]) - o.boundaries.begin();
    buckets[b].push_back(c);
  }
  BatchPlan plan;
  for (auto& bucket : buckets) {
    if (bucket.empty()) continue;
    if (o.shuffle) shuffle(bucket, state);
    int64_t per_batch = o.batch_size;
    if (o.max_tokens_per_batch > 0) {
      int64_t longest = 0;
      for (int64_t c : bucket) longest = std::max(longest, lengths[c]);
      per_batch = std::max<int64_t>(1, o.max_tokens_per_batch / std::max<int64_t>(1, longest));
    }
    for (size_t i = 0; i < bucket.size(); i += static_cast<size_t>(per_batch)) {
      const size_t end = std::min(bucket.size(), i + static_cast<size_t>(per_batch));
      if (o.drop_last && static_cast<int64_t>(end - i) < per_batch) break;
      CellBatch b;
      b.cells.assign(bucket.begin() + static_cast<std::ptrdiff_t>(i), bucket.begin() + static_cast<std::ptrdiff_t>(end));
      for (int64_t c : b.cells) {
        b.max_len = std::max(b.max_len, lengths[c]);
        b.tokens += lengths[c];
      }
      b.max_len = padded_width(b.max_len, o.pad_to_multiple, o.max_width);
      plan.batches.push_back(std::move(b));
    }
  }
  if (o.shuffle) shuffle(plan.batches, state);
  for (const auto& b : plan.batches) {
    plan.tokens += b.tokens;
    plan.slots += b.slots();
  }
  return plan;
}

}  // namespace sigtrain::singlecell
