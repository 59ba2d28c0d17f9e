// ASW (cosine), cohesion and kNN accuracy against direct computations (numpy, by the formulas in
// embedding_metrics.h) on tiny hand-made embeddings.
#include <gtest/gtest.h>

#include <cmath>

#include "data/singlecell/embedding_metrics.h"

namespace sc = sigtrain::singlecell;

namespace {

// 7 cells in 3-D: label 0 near x, label 1 near y, label 2 a single cell near z (its silhouette is 0).
const std::vector<float> kX{1, 0, 0, 2, 0.2f, 0, 0.9f, -0.1f, 0.1f, 0, 1, 0, 0.1f, 3, 0.3f, 0, 0.5f, 1, 0, 0, 2};
const std::vector<int32_t> kLabels{0, 0, 0, 1, 1, 1, 2};

}  // namespace

TEST(EmbeddingMetrics, MatchDirectComputation) {
  // numpy reference (sklearn 1.2.1 on the float32 values: 0.516689002513885): asw 0.516689055779436, intra 0.178271219110522, inter 0.914229196356994,
  // kNN accuracy k=1: 5/7, k=3: 6/7 (the lone label-2 cell can never be right).
  EXPECT_NEAR(sc::silhouette_cosine(kX.data(), 7, 3, kLabels.data()), 0.516689055779436, 1e-6);
  const auto c = sc::cohesion_cosine(kX.data(), 7, 3, kLabels.data());
  EXPECT_NEAR(c.mean_intra, 0.178271219110522, 1e-6);
  EXPECT_NEAR(c.mean_inter, 0.914229196356994, 1e-6);
  EXPECT_NEAR(c.ratio, 0.194996199881709, 1e-6);
  EXPECT_DOUBLE_EQ(sc::knn_accuracy_cosine(kX.data(), 7, 3, kLabels.data(), 1), 5.0 / 7.0);
  EXPECT_DOUBLE_EQ(sc::knn_accuracy_cosine(kX.data(), 7, 3, kLabels.data(), 3), 6.0 / 7.0);
  const auto s = sc::score_embeddings(kX, 3, kLabels, 3);
  EXPECT_NEAR(s.asw, 0.516689055779436, 1e-6);
  EXPECT_NEAR(s.cohesion.ratio, 0.194996199881709, 1e-6);
  EXPECT_DOUBLE_EQ(s.knn_accuracy, 6.0 / 7.0);
  EXPECT_EQ(s.n, 7);
  EXPECT_EQ(s.n_labels, 3);
}

TEST(EmbeddingMetrics, CosineDistanceIgnoresScaleAndUnlabelledCells) {
  std::vector<float> scaled = kX;
  for (size_t i = 0; i < 3; ++i) scaled[i] *= 10.0f;  // cell 0 ten times longer: same distances
  EXPECT_NEAR(sc::silhouette_cosine(scaled.data(), 7, 3, kLabels.data()), 0.516689055779436, 1e-6);
  // an extra cell with label -1 is ignored
  std::vector<float> more = kX;
  more.insert(more.end(), {5, 5, 5});
  std::vector<int32_t> lab = kLabels;
  lab.push_back(-1);
  EXPECT_NEAR(sc::silhouette_cosine(more.data(), 8, 3, lab.data()), 0.516689055779436, 1e-6);
  const auto d = sc::cosine_distance_matrix(kX.data(), 7, 3);
  EXPECT_DOUBLE_EQ(d[0], 0.0);
  EXPECT_NEAR(d[0 * 7 + 3], 1.0, 1e-12);  // x vs y: orthogonal
}

TEST(EmbeddingMetrics, KnnTiesGoToTheCloserLabel) {
  // unit vectors at 0, 18, 25 and 180 degrees, labels A B A B, k = 2: every cell sees one A and one B neighbour
  // or two of the other label; ties go to the label with the smaller summed distance, which is always wrong here
  // (a smallest-label rule would get cells 0 and 2 right).
  const double r = M_PI / 180.0;
  const std::vector<float> x{1, 0, float(std::cos(18 * r)), float(std::sin(18 * r)), float(std::cos(25 * r)),
                             float(std::sin(25 * r)), -1, 0};
  const std::vector<int32_t> lab{0, 1, 0, 1};
  EXPECT_DOUBLE_EQ(sc::knn_accuracy_cosine(x.data(), 4, 2, lab.data(), 2), 0.0);
}

TEST(EmbeddingMetrics, PerfectSeparationAndErrors) {
  const std::vector<float> x{1, 0, 2, 0, 0, 1, 0, 3};
  const std::vector<int32_t> lab{0, 0, 1, 1};
  EXPECT_DOUBLE_EQ(sc::silhouette_cosine(x.data(), 4, 2, lab.data()), 1.0);
  EXPECT_DOUBLE_EQ(sc::cohesion_cosine(x.data(), 4, 2, lab.data()).ratio, 0.0);
  EXPECT_DOUBLE_EQ(sc::knn_accuracy_cosine(x.data(), 4, 2, lab.data(), 1), 1.0);
  const std::vector<int32_t> one{0, 0, 0, 0};
  EXPECT_THROW(sc::silhouette_cosine(x.data(), 4, 2, one.data()), std::invalid_argument);
  EXPECT_THROW(sc::score_embeddings(x, 2, one), std::invalid_argument);
}

TEST(EmbeddingMetrics, MatchSklearnOnA120CellEmbedding) {
  // x[i][k] = sin(0.37 i (k+1) + 1.3 k) + 1.5 [label(i) == k mod 4], label(i) = 7i mod 4, 120 x 8. Reference:
  // sklearn 1.2.1 silhouette_score(x, labels, metric="cosine") = 0.390069335699081; cohesion and kNN by the
  // direct formulas on sklearn's cosine_distances: 0.505259770741768; kNN k=5 109/120, k=15 111/120.
  const int n = 120, d = 8;
  std::vector<float> x(n * d);
  std::vector<int32_t> lab(n);
  for (int i = 0; i < n; ++i) {
    lab[i] = (i * 7) % 4;
    for (int k = 0; k < d; ++k) {
      x[i * d + k] = static_cast<float>(std::sin(0.37 * i * (k + 1) + 1.3 * k) + 1.5 * (lab[i] == k % 4 ? 1 : 0));
    }
  }
  const auto s = sc::score_embeddings(x, d, lab, 5);
  EXPECT_NEAR(s.asw, 0.390069335699081, 1e-6);
  EXPECT_NEAR(s.cohesion.ratio, 0.505259770741768, 1e-6);
  EXPECT_DOUBLE_EQ(s.knn_accuracy, 109.0 / 120.0);
  EXPECT_DOUBLE_EQ(sc::knn_accuracy_cosine(x.data(), n, d, lab.data(), 15), 111.0 / 120.0);
}
