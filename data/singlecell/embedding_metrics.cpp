#include "data/singlecell/embedding_metrics.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <stdexcept>

namespace sigtrain::singlecell {
namespace {

// Keeps the cells with label >= 0: their rows, labels remapped to 0..L-1.
struct Kept {
  std::vector<int64_t> rows;
  std::vector<int32_t> label;
  int32_t n_labels = 0;
};

Kept keep_labelled(int64_t n, const int32_t* labels) {
  Kept k;
  std::map<int32_t, int32_t> remap;
  for (int64_t i = 0; i < n; ++i) {
    if (labels[i] < 0) continue;
    auto it = remap.emplace(labels[i], static_cast<int32_t>(remap.size())).first;
    (void)it;
  }
  int32_t next = 0;
  for (auto& [l, id] : remap) id = next++;
  for (int64_t i = 0; i < n; ++i) {
    if (labels[i] < 0) continue;
    k.rows.push_back(i);
    k.label.push_back(remap[labels[i]]);
  }
  k.n_labels = next;
  return k;
}

std::vector<double> distances_of(const float* x, int64_t d, const std::vector<int64_t>& rows) {
  const int64_t n = static_cast<int64_t>(rows.size());
  std::vector<double> norm(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    double s = 0.0;
    for (int64_t k = 0; k < d; ++k) s += static_cast<double>(x[rows[i] * d + k]) * x[rows[i] * d + k];
    norm[i] = std::sqrt(s);
  }
  std::vector<double> dist(static_cast<size_t>(n * n), 0.0);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = i + 1; j < n; ++j) {
      double dot = 0.0;
      for (int64_t k = 0; k < d; ++k) dot += static_cast<double>(x[rows[i] * d + k]) * x[rows[j] * d + k];
      const double denom = norm[i] * norm[j];
      const double cos = denom > 0.0 ? dot / denom : 0.0;
      const double v = std::clamp(1.0 - cos, 0.0, 2.0);
      dist[i * n + j] = v;
      dist[j * n + i] = v;
    }
  }
  return dist;
}

double silhouette_from(const std::vector<double>& dist, const std::vector<int32_t>& label, int32_t n_labels) {
  const int64_t n = static_cast<int64_t>(label.size());
  if (n_labels < 2 || n_labels > n - 1) {
    throw std::invalid_argument("silhouette: needs 2 <= number of labels <= n - 1 (got " + std::to_string(n_labels) +
                                " labels, " + std::to_string(n) + " cells)");
  }
  std::vector<int64_t> size(static_cast<size_t>(n_labels), 0);
  for (int32_t l : label) ++size[l];
  double total = 0.0;
  std::vector<double> sum(static_cast<size_t>(n_labels));
  for (int64_t i = 0; i < n; ++i) {
    std::fill(sum.begin(), sum.end(), 0.0);
    for (int64_t j = 0; j < n; ++j) sum[label[j]] += dist[i * n + j];
    const int32_t li = label[i];
    if (size[li] <= 1) continue;  // s(i) = 0
    const double a = sum[li] / static_cast<double>(size[li] - 1);
    double b = INFINITY;
    for (int32_t l = 0; l < n_labels; ++l) {
      if (l != li && size[l] > 0) b = std::min(b, sum[l] / static_cast<double>(size[l]));
    }
    const double m = std::max(a, b);
    total += m > 0.0 ? (b - a) / m : 0.0;
  }
  return total / static_cast<double>(n);
}

CohesionScore cohesion_from(const std::vector<double>& dist, const std::vector<int32_t>& label) {
  const int64_t n = static_cast<int64_t>(label.size());
  double intra = 0.0, inter = 0.0;
  int64_t n_intra = 0, n_inter = 0;
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = i + 1; j < n; ++j) {
      if (label[i] == label[j]) {
        intra += dist[i * n + j];
        ++n_intra;
      } else {
        inter += dist[i * n + j];
        ++n_inter;
      }
    }
  }
  if (n_intra == 0 || n_inter == 0) {
    throw std::invalid_argument("cohesion: needs at least one same-label pair and one different-label pair");
  }
  CohesionScore c;
  c.mean_intra = intra / static_cast<double>(n_intra);
  c.mean_inter = inter / static_cast<double>(n_inter);
  c.ratio = c.mean_inter > 0.0 ? c.mean_intra / c.mean_inter : INFINITY;
  return c;
}

double knn_from(const std::vector<double>& dist, const std::vector<int32_t>& label, int32_t n_labels, int k) {
  const int64_t n = static_cast<int64_t>(label.size());
  if (k < 1) throw std::invalid_argument("knn: k must be >= 1");
  if (n < 2) throw std::invalid_argument("knn: needs at least 2 cells");
  const int64_t kk = std::min<int64_t>(k, n - 1);
  std::vector<int64_t> order;
  std::vector<int64_t> votes(static_cast<size_t>(n_labels));
  std::vector<double> vdist(static_cast<size_t>(n_labels));
  int64_t correct = 0;
  for (int64_t i = 0; i < n; ++i) {
    order.clear();
    for (int64_t j = 0; j < n; ++j) {
      if (j != i) order.push_back(j);
    }
    const double* row = &dist[i * n];
    auto closer = [row](int64_t a, int64_t b) { return row[a] < row[b] || (row[a] == row[b] && a < b); };
    std::partial_sort(order.begin(), order.begin() + kk, order.end(), closer);
    std::fill(votes.begin(), votes.end(), 0);
    std::fill(vdist.begin(), vdist.end(), 0.0);
    for (int64_t t = 0; t < kk; ++t) {
      votes[label[order[t]]]++;
      vdist[label[order[t]]] += row[order[t]];
    }
    int32_t best = 0;
    for (int32_t l = 1; l < n_labels; ++l) {
      if (votes[l] > votes[best] || (votes[l] == votes[best] && votes[l] > 0 && vdist[l] < vdist[best])) best = l;
    }
    if (best == label[i]) ++correct;
  }
  return static_cast<double>(correct) / static_cast<double>(n);
}

}  // namespace

std::vector<double> cosine_distance_matrix(const float* x, int64_t n, int64_t d) {
  std::vector<int64_t> rows(static_cast<size_t>(n));
  std::iota(rows.begin(), rows.end(), 0);
  return distances_of(x, d, rows);
}

double silhouette_cosine(const float* x, int64_t n, int64_t d, const int32_t* labels) {
  const Kept k = keep_labelled(n, labels);
  return silhouette_from(distances_of(x, d, k.rows), k.label, k.n_labels);
}

CohesionScore cohesion_cosine(const float* x, int64_t n, int64_t d, const int32_t* labels) {
  const Kept k = keep_labelled(n, labels);
  return cohesion_from(distances_of(x, d, k.rows), k.label);
}

double knn_accuracy_cosine(const float* x, int64_t n, int64_t d, const int32_t* labels, int kn) {
  const Kept k = keep_labelled(n, labels);
  return knn_from(distances_of(x, d, k.rows), k.label, k.n_labels, kn);
}

EmbeddingScores score_embeddings(const std::vector<float>& x, int64_t d, const std::vector<int32_t>& labels,
                                 int knn_k) {
  const int64_t n = static_cast<int64_t>(labels.size());
  if (static_cast<int64_t>(x.size()) != n * d) throw std::invalid_argument("score_embeddings: x is not n x d");
  const Kept k = keep_labelled(n, labels.data());
  if (k.rows.size() < 3 || k.n_labels < 2) {
    throw std::invalid_argument("score_embeddings: needs >= 3 labelled cells and >= 2 labels");
  }
  const auto dist = distances_of(x.data(), d, k.rows);
  EmbeddingScores s;
  s.n = static_cast<int64_t>(k.rows.size());
  s.n_labels = k.n_labels;
  s.asw = silhouette_from(dist, k.label, k.n_labels);
  s.cohesion = cohesion_from(dist, k.label);
  s.knn_accuracy = knn_from(dist, k.label, k.n_labels, knn_k);
  return s;
}

}  // namespace sigtrain::singlecell
