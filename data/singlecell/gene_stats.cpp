#include "data/singlecell/gene_stats.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "common/splitmix64.h"

namespace sigtrain::singlecell {

GeneStatsAccumulator::GeneStatsAccumulator(int64_t n_genes, int64_t median_sample_cap, uint64_t seed)
    : sum_(static_cast<size_t>(n_genes), 0.0),
      sumsq_(static_cast<size_t>(n_genes), 0.0),
      nonzero_(static_cast<size_t>(n_genes), 0),
      cap_(median_sample_cap),
      rng_(seed),
      reservoir_(median_sample_cap > 0 ? static_cast<size_t>(n_genes) : 0) {}

void GeneStatsAccumulator::add(const CsrMatrix& m) {
  for (int64_t p = 0; p < m.nnz(); ++p) {
    const float v = m.data[p];
    if (v == 0.0f) continue;
    const int32_t g = m.indices[p];
    sum_[g] += v;
    sumsq_[g] += static_cast<double>(v) * v;
    const int64_t seen = nonzero_[g]++;
    if (cap_ > 0) {
      auto& res = reservoir_[g];
      if (seen < cap_) {
        res.push_back(v);
      } else {
        const uint64_t j = splitmix64_next(rng_) % static_cast<uint64_t>(seen + 1);
        if (j < static_cast<uint64_t>(cap_)) res[j] = v;
      }
    }
  }
  n_cells_ += m.n_rows;
}

std::vector<double> GeneStatsAccumulator::mean() const {
  std::vector<double> out(sum_.size(), 0.0);
  if (n_cells_ == 0) return out;
  for (size_t g = 0; g < sum_.size(); ++g) out[g] = sum_[g] / static_cast<double>(n_cells_);
  return out;
}

std::vector<double> GeneStatsAccumulator::variance() const {
  std::vector<double> out(sum_.size(), 0.0);
  if (n_cells_ < 2) return out;
  const double n = static_cast<double>(n_cells_);
  for (size_t g = 0; g < sum_.size(); ++g) {
    const double mu = sum_[g] / n;
    out[g] = std::max(0.0, (sumsq_[g] - n * mu * mu) / (n - 1.0));
  }
  return out;
}

std::vector<float> GeneStatsAccumulator::nonzero_median() const {
  std::vector<float> out(sum_.size(), 0.0f);
  for (size_t g = 0; g < reservoir_.size(); ++g) {
    std::vector<float> v = reservoir_[g];
    if (v.empty()) continue;
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    out[g] = n % 2 ? v[n / 2] : static_cast<float>(0.5 * (static_cast<double>(v[n / 2 - 1]) + v[n / 2]));
  }
  return out;
}

std::vector<int32_t> select_highly_variable_genes(const std::vector<double>& mean_in,
                                                  const std::vector<double>& variance, int64_t top_k, int n_bins,
                                                  std::vector<double>* dispersion_norm_out) {
  const size_t n = mean_in.size();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::vector<double> disp(n), mlog(n);
  for (size_t g = 0; g < n; ++g) {
    const double mu = mean_in[g] == 0.0 ? 1e-12 : mean_in[g];
    double d = variance[g] / mu;
    d = d == 0.0 ? nan : std::log(d);
    disp[g] = d;
    mlog[g] = std::log1p(mu);
  }
  // pandas.cut(x, bins): equal-width edges over [min, max], the lowest edge lowered by 0.1% of the range.
  const auto [mn_it, mx_it] = std::minmax_element(mlog.begin(), mlog.end());
  std::vector<int> bin(n, 0);
  if (n > 0) {
    double lo = *mn_it, hi = *mx_it;
    if (lo == hi) {
      lo -= lo != 0 ? 0.001 * std::fabs(lo) : 0.001;
      hi += hi != 0 ? 0.001 * std::fabs(hi) : 0.001;
    }
    std::vector<double> edges(static_cast<size_t>(n_bins) + 1);
    for (int i = 0; i <= n_bins; ++i) edges[i] = lo + (hi - lo) * i / n_bins;
    if (*mn_it != *mx_it) edges[0] = lo - (hi - lo) * 0.001;
    for (size_t g = 0; g < n; ++g) {
      // right-closed: the first bin i with x <= edges[i + 1]
      int b = static_cast<int>(std::lower_bound(edges.begin() + 1, edges.end(), mlog[g]) - (edges.begin() + 1));
      bin[g] = std::min(b, n_bins - 1);
    }
  }
  std::vector<double> bsum(n_bins, 0.0), bsq(n_bins, 0.0);
  std::vector<int64_t> bcount(n_bins, 0);
  for (size_t g = 0; g < n; ++g) {
    if (std::isnan(disp[g])) continue;
    bsum[bin[g]] += disp[g];
    bcount[bin[g]]++;
  }
  std::vector<double> bmean(n_bins, nan), bstd(n_bins, nan);
  for (int b = 0; b < n_bins; ++b) {
    if (bcount[b] > 0) bmean[b] = bsum[b] / static_cast<double>(bcount[b]);
  }
  for (size_t g = 0; g < n; ++g) {
    if (std::isnan(disp[g])) continue;
    const double d = disp[g] - bmean[bin[g]];
    bsq[bin[g]] += d * d;
  }
  for (int b = 0; b < n_bins; ++b) {
    if (bcount[b] >= 2) {
      bstd[b] = std::sqrt(bsq[b] / static_cast<double>(bcount[b] - 1));
    } else {  // scanpy: std <- mean, mean <- 0 for bins with one gene
      bstd[b] = bmean[b];
      bmean[b] = 0.0;
    }
  }
  std::vector<double> norm(n);
  for (size_t g = 0; g < n; ++g) norm[g] = (disp[g] - bmean[bin[g]]) / bstd[bin[g]];
  if (dispersion_norm_out) *dispersion_norm_out = norm;
  std::vector<int32_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    const bool na = std::isnan(norm[a]), nb = std::isnan(norm[b]);
    if (na != nb) return nb;
    if (na) return false;
    return norm[a] > norm[b];
  });
  const size_t k = top_k <= 0 ? n : std::min<size_t>(n, static_cast<size_t>(top_k));
  order.resize(k);
  std::sort(order.begin(), order.end());
  return order;
}

}  // namespace sigtrain::singlecell
