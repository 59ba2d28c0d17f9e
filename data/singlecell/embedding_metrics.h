#pragma once
// Cell-type separation of cell embeddings, on a row-major float matrix x[n, d] with integer labels (>= 0; cells
// with label < 0 are ignored). Distances are cosine distances d(i, j) = 1 - <x_i, x_j> / (|x_i| |x_j|), clipped to
// [0, 2]; a zero vector has cosine similarity 0 to everything (distance 1), as sklearn's cosine_distances.
// All metrics are O(n^2 d) in double precision; evaluate on a held-out subset (thousands of cells).
//
//  * ASW: mean silhouette width, as sklearn.metrics.silhouette_score(x, labels, metric="cosine"):
//      a(i) = mean distance from i to the other cells of its label, b(i) = min over other labels of the mean
//      distance from i to that label's cells, s(i) = (b - a) / max(a, b), s(i) = 0 for a cell alone in its label;
//      ASW = mean of s(i). In [-1, 1]; higher = better separated. Needs 2 <= number of labels <= n - 1.
//  * cohesion: mean cosine distance over unordered pairs {i, j} with the same label, divided by the mean over
//    pairs with different labels (each pair counted once). Lower = tighter, better separated cell types.
//  * kNN accuracy: leave-one-out k-nearest-neighbour classification by cosine distance: each cell's k nearest
//    other cells (ties in distance: lower index first) vote; the label with most votes wins, a tie in votes goes to
//    the label with the smaller summed distance among the tied ones, then to the smaller label id. Accuracy =
//    fraction of cells whose predicted label equals their own.
#include <cstdint>
#include <vector>

namespace sigtrain::singlecell {

struct CohesionScore {
  double mean_intra = 0.0;  // mean distance over same-label pairs
  double mean_inter = 0.0;  // mean distance over different-label pairs
  double ratio = 0.0;       // mean_intra / mean_inter
};

struct EmbeddingScores {
  double asw = 0.0;
  CohesionScore cohesion;
  double knn_accuracy = 0.0;
  int64_t n = 0;         // cells scored
  int64_t n_labels = 0;  // distinct labels among them
};

// n x n cosine distance matrix (double).
std::vector<double> cosine_distance_matrix(const float* x, int64_t n, int64_t d);

double silhouette_cosine(const float* x, int64_t n, int64_t d, const int32_t* labels);
CohesionScore cohesion_cosine(const float* x, int64_t n, int64_t d, const int32_t* labels);
double knn_accuracy_cosine(const float* x, int64_t n, int64_t d, const int32_t* labels, int k);

// All three from one distance matrix. Throws std::invalid_argument when fewer than 2 labels or 3 cells.
EmbeddingScores score_embeddings(const std::vector<float>& x, int64_t d, const std::vector<int32_t>& labels,
                                 int knn_k = 5);

}  // namespace sigtrain::singlecell
