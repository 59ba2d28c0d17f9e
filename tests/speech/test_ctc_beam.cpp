// CTC prefix beam search and the exact sequence probability (data/speech/ctc_beam.h) against a brute-force reference
// that enumerates every alignment of small random log-probability matrices: the forward algorithm equals the sum
// over alignments, a wide beam finds the most probable collapsed sequence (and its whole n-best list), beam width 1
// is greedy decoding on peaked frames, the beam is never less probable than greedy, and bad input is refused.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <stdexcept>
#include <vector>

#include "data/speech/ctc_beam.h"
#include "data/speech/ctc_greedy.h"

namespace sp = sigtrain::speech;

namespace {

using Labels = std::vector<int32_t>;

// log_softmax of N(0, scale²) logits, [frames, vocab] row-major.
std::vector<float> random_log_probs(std::mt19937_64& rng, int64_t frames, int64_t vocab, double scale) {
  std::normal_distribution<double> normal(0.0, scale);
  std::vector<float> lp(static_cast<size_t>(frames * vocab));
  for (int64_t t = 0; t < frames; ++t) {
    std::vector<double> z(static_cast<size_t>(vocab));
    for (auto& v : z) v = normal(rng);
    const double hi = *std::max_element(z.begin(), z.end());
    double sum = 0;
    for (const double v : z) sum += std::exp(v - hi);
    for (int64_t c = 0; c < vocab; ++c)
      lp[static_cast<size_t>(t * vocab + c)] = static_cast<float>(z[static_cast<size_t>(c)] - hi - std::log(sum));
  }
  return lp;
}

// Every frame has one random label (the blank included) of probability in [0.9, 0.99]; the rest share what is left.
std::vector<float> peaked_log_probs(std::mt19937_64& rng, int64_t frames, int64_t vocab) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::uniform_int_distribution<int64_t> pick(0, vocab - 1);
  std::vector<float> lp(static_cast<size_t>(frames * vocab));
  for (int64_t t = 0; t < frames; ++t) {
    const int64_t top = pick(rng);
    const double p_top = 0.9 + 0.09 * u(rng);
    std::vector<double> rest(static_cast<size_t>(vocab), 0.0);
    double sum = 0;
    for (int64_t c = 0; c < vocab; ++c)
      if (c != top) sum += rest[static_cast<size_t>(c)] = 0.05 + u(rng);
    for (int64_t c = 0; c < vocab; ++c) {
      const double p = c == top ? p_top : (1.0 - p_top) * rest[static_cast<size_t>(c)] / sum;
      lp[static_cast<size_t>(t * vocab + c)] = static_cast<float>(std::log(p));
    }
  }
  return lp;
}

// P(y) for every collapsed sequence y, summed over all vocab^frames alignments.
std::map<Labels, double> brute_force(const std::vector<float>& lp, int64_t frames, int64_t vocab) {
  std::map<Labels, double> probs;
  std::vector<int32_t> path(static_cast<size_t>(frames), 0);
  while (true) {
    double log_p = 0;
    for (int64_t t = 0; t < frames; ++t) log_p += lp[static_cast<size_t>(t * vocab + path[static_cast<size_t>(t)])];
    probs[sp::ctc_collapse(path, 0)] += std::exp(log_p);
    int64_t t = 0;  // next path, as a base-`vocab` counter
    while (t < frames && ++path[static_cast<size_t>(t)] == vocab) path[static_cast<size_t>(t++)] = 0;
    if (t == frames) break;
  }
  return probs;
}

std::pair<Labels, double> most_probable(const std::map<Labels, double>& probs) {
  auto best = probs.begin();
  for (auto it = probs.begin(); it != probs.end(); ++it)
    if (it->second > best->second) best = it;
  return {best->first, std::log(best->second)};
}

sp::CtcBeamOptions exhaustive() {
  sp::CtcBeamOptions o;
  o.beam_width = 4096;  // more than every prefix of 6 frames over 3 labels (1093)
  o.prune_nats = 0;
  o.with_greedy = false;
  return o;
}

Labels greedy(const std::vector<float>& lp, int64_t frames, int64_t vocab) {
  return sp::ctc_collapse(sp::argmax_ids(lp.data(), frames, vocab), 0);
}

// The textbook prefix beam search (Hannun et al.), in log space over every label of every frame: the reference the
// optimised search (relative probabilities, labels per frame capped at beam_width + 1) must match. Returns the
// final prefixes.
std::set<Labels> reference_beam(const std::vector<float>& lp, int64_t frames, int64_t vocab, int64_t width) {
  const double ninf = -std::numeric_limits<double>::infinity();
  auto lse = [&](double a, double b) {
    if (a == ninf) return b;
    if (b == ninf) return a;
    return std::max(a, b) + std::log1p(std::exp(-std::abs(a - b)));
  };
  std::map<Labels, std::pair<double, double>> beam = {{Labels{}, {0.0, ninf}}};  // (log p_blank, log p_label)
  for (int64_t t = 0; t < frames; ++t) {
    const float* row = lp.data() + t * vocab;
    std::map<Labels, std::pair<double, double>> next;
    auto add = [&](const Labels& l, double pb, double pnb) {
      auto [it, fresh] = next.try_emplace(l, ninf, ninf);
      it->second.first = lse(it->second.first, pb);
      it->second.second = lse(it->second.second, pnb);
    };
    for (const auto& [l, p] : beam) {
      const double total = lse(p.first, p.second);
      add(l, total + row[0], ninf);
      if (!l.empty()) add(l, ninf, p.second + row[l.back()]);
      for (int32_t c = 1; c < vocab; ++c) {
        Labels e = l;
        e.push_back(c);
        add(e, ninf, (!l.empty() && c == l.back() ? p.first : total) + row[c]);
      }
    }
    std::vector<std::pair<double, Labels>> ranked;
    for (const auto& [l, p] : next) ranked.emplace_back(lse(p.first, p.second), l);
    std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    if (static_cast<int64_t>(ranked.size()) > width) ranked.resize(static_cast<size_t>(width));
    beam.clear();
    for (const auto& [score, l] : ranked) beam[l] = next[l];
  }
  std::set<Labels> out;
  for (const auto& [l, p] : beam) out.insert(l);
  return out;
}

}  // namespace

TEST(CtcLogProb, EqualsTheSumOverAllAlignments) {
  std::mt19937_64 rng(11);
  for (int trial = 0; trial < 12; ++trial) {
    const int64_t frames = 1 + trial % 6, vocab = 2 + trial % 3;
    const auto lp = random_log_probs(rng, frames, vocab, 1.0 + trial % 3);
    const auto probs = brute_force(lp, frames, vocab);
    double total = 0;
    for (const auto& [labels, p] : probs) {
      total += p;
      EXPECT_NEAR(sp::ctc_log_prob(lp.data(), frames, vocab, labels), std::log(p), 1e-9)
          << "trial " << trial << ", " << labels.size() << " labels";
    }
    EXPECT_NEAR(total, 1.0, 1e-5);  // the float log-probabilities are normalised to float precision
  }
  // Not alignable: "a a" needs a blank between, 3 frames.
  const std::vector<float> two(2 * 3, std::log(1.0f / 3));
  EXPECT_EQ(sp::ctc_log_prob(two.data(), 2, 3, {1, 1}), -std::numeric_limits<double>::infinity());
  EXPECT_NEAR(sp::ctc_log_prob(two.data(), 2, 3, {1, 2}), std::log(1.0 / 9), 1e-6);
  EXPECT_EQ(sp::ctc_log_prob(nullptr, 0, 3, {}), 0.0);
  // Log-probabilities so low that the scaled forward pass underflows still give the exact value (log space).
  const std::vector<float> deep = {0.0f, -2000.0f, -2000.0f, 0.0f};  // frame 0: blank certain; frame 1: 'a' certain
  EXPECT_NEAR(sp::ctc_log_prob(deep.data(), 2, 2, {1}), 0.0, 1e-9);
  EXPECT_NEAR(sp::ctc_log_prob(deep.data(), 2, 2, {}), -2000.0, 1e-6);
}

TEST(CtcBeam, WideBeamFindsTheMostProbableSequenceAndEveryOther) {
  std::mt19937_64 rng(7);
  for (int trial = 0; trial < 60; ++trial) {
    const int64_t frames = 1 + trial % 6, vocab = 2 + (trial / 6) % 3;
    const double scale = 0.5 + 0.5 * (trial % 5);
    const auto lp = random_log_probs(rng, frames, vocab, scale);
    const auto probs = brute_force(lp, frames, vocab);
    const auto [best, best_log_p] = most_probable(probs);
    const auto hyps = sp::ctc_beam_search(lp.data(), frames, vocab, exhaustive());
    ASSERT_FALSE(hyps.empty());
    EXPECT_EQ(hyps.front().labels, best) << "trial " << trial;
    EXPECT_NEAR(hyps.front().log_prob, best_log_p, 1e-9) << "trial " << trial;
    // The whole n-best list: every sequence with its probability, most probable first.
    ASSERT_EQ(hyps.size(), probs.size()) << "trial " << trial;
    for (size_t i = 0; i < hyps.size(); ++i) {
      ASSERT_TRUE(probs.count(hyps[i].labels)) << "trial " << trial;
      EXPECT_NEAR(hyps[i].log_prob, std::log(probs.at(hyps[i].labels)), 1e-9);
      if (i > 0) EXPECT_GE(hyps[i - 1].log_prob, hyps[i].log_prob);
    }
  }
}

TEST(CtcBeam, NarrowBeamMatchesTheTextbookSearch) {
  // Widths far below the number of prefixes and vocabularies above width + 1 (so the label cap applies): the same
  // final prefixes as the plain search over every label.
  std::mt19937_64 rng(9);
  for (int trial = 0; trial < 120; ++trial) {
    const int64_t frames = 5 + trial % 25, vocab = 3 + trial % 14, width = 1 + trial % 6;
    const auto lp = random_log_probs(rng, frames, vocab, 0.5 + 0.5 * (trial % 4));
    sp::CtcBeamOptions o;
    o.beam_width = width;
    o.prune_nats = 0;
    o.with_greedy = false;
    std::set<Labels> got;
    for (const auto& h : sp::ctc_beam_search(lp.data(), frames, vocab, o)) got.insert(h.labels);
    EXPECT_EQ(got, reference_beam(lp, frames, vocab, width)) << "trial " << trial << ": " << frames << " frames, "
                                                             << vocab << " ids, width " << width;
  }
}

TEST(CtcBeam, HandWorkedCaseWhereBeamBeatsGreedy) {
  // Two frames of P(blank, a, b) = (0.4, 0.35, 0.25). Greedy takes blank twice: "" with P = 0.16. But
  // P("a") = 0.35·0.35 + 0.35·0.4 + 0.4·0.35 = 0.4025 (a a, a _, _ a), the most probable sequence.
  const std::vector<float> lp = {std::log(0.4f), std::log(0.35f), std::log(0.25f),
                                 std::log(0.4f), std::log(0.35f), std::log(0.25f)};
  EXPECT_TRUE(greedy(lp, 2, 3).empty());
  // A beam of one keeps only "" after the first frame (0.4 > 0.35), so it ends where greedy does; two suffice.
  sp::CtcBeamOptions one;
  one.beam_width = 1;
  EXPECT_TRUE(sp::ctc_beam_search(lp.data(), 2, 3, one).front().labels.empty());
  for (const int64_t width : {2, 16}) {
    sp::CtcBeamOptions o;
    o.beam_width = width;
    const auto hyps = sp::ctc_beam_search(lp.data(), 2, 3, o);
    EXPECT_EQ(hyps.front().labels, Labels{1}) << "width " << width;
    EXPECT_NEAR(std::exp(hyps.front().log_prob), 0.4025, 1e-6);
  }
  const auto all = sp::ctc_beam_search(lp.data(), 2, 3, exhaustive());
  ASSERT_EQ(all.size(), 5u);  // a, b, "", ab, ba
  EXPECT_EQ(all[1].labels, Labels{2});
  EXPECT_NEAR(std::exp(all[1].log_prob), 0.2625, 1e-6);
  EXPECT_EQ(all[2].labels, Labels{});
  EXPECT_NEAR(std::exp(all[2].log_prob), 0.16, 1e-6);
}

TEST(CtcBeam, WidthOneIsGreedyOnPeakedFrames) {
  // With one label of probability >= 0.9 per frame, the most probable prefix after every frame is the greedy path's
  // collapse, so a beam of one (without the greedy candidate) must follow it exactly; so must a wider pruned beam.
  std::mt19937_64 rng(3);
  for (int trial = 0; trial < 200; ++trial) {
    const int64_t frames = 1 + trial % 40, vocab = 2 + trial % 9;
    const auto lp = peaked_log_probs(rng, frames, vocab);
    sp::CtcBeamOptions one;
    one.beam_width = 1;
    one.prune_nats = 0;
    one.with_greedy = false;
    const auto hyps = sp::ctc_beam_search(lp.data(), frames, vocab, one);
    ASSERT_EQ(hyps.size(), 1u);
    EXPECT_EQ(hyps.front().labels, greedy(lp, frames, vocab)) << "trial " << trial;
    EXPECT_NEAR(hyps.front().log_prob, sp::ctc_log_prob(lp.data(), frames, vocab, hyps.front().labels), 1e-12);
    sp::CtcBeamOptions pruned;
    pruned.beam_width = 8;
    pruned.prune_nats = 2.0;
    pruned.with_greedy = false;
    EXPECT_EQ(sp::ctc_beam_search(lp.data(), frames, vocab, pruned).front().labels, greedy(lp, frames, vocab));
  }
}

TEST(CtcBeam, NeverLessProbableThanGreedy) {
  std::mt19937_64 rng(5);
  int strictly_better = 0, cases = 0;
  for (int trial = 0; trial < 80; ++trial) {
    const int64_t frames = 10 + trial % 40, vocab = 3 + trial % 10;
    const auto lp = random_log_probs(rng, frames, vocab, 1.0 + 0.25 * (trial % 4));
    const double p_greedy = sp::ctc_log_prob(lp.data(), frames, vocab, greedy(lp, frames, vocab));
    for (const int64_t width : {1, 2, 4, 16}) {
      sp::CtcBeamOptions o;
      o.beam_width = width;
      const auto hyps = sp::ctc_beam_search(lp.data(), frames, vocab, o);
      ASSERT_LE(hyps.size(), static_cast<size_t>(width) + 1);
      const double p_beam = hyps.front().log_prob;
      EXPECT_GE(p_beam, p_greedy - 1e-12) << "trial " << trial << ", width " << width;
      EXPECT_NEAR(p_beam, sp::ctc_log_prob(lp.data(), frames, vocab, hyps.front().labels), 1e-9);
      ++cases;
      strictly_better += p_beam > p_greedy + 1e-9 ? 1 : 0;
    }
  }
  // On flat random frames the best path is rarely the best sequence: the search must find better ones.
  EXPECT_GT(strictly_better, cases / 4) << strictly_better << " of " << cases;
}

TEST(CtcBeam, EdgeCasesAndBadInput) {
  const auto empty = sp::ctc_beam_search(nullptr, 0, 5);
  ASSERT_EQ(empty.size(), 1u);
  EXPECT_TRUE(empty.front().labels.empty());
  EXPECT_EQ(empty.front().log_prob, 0.0);
  // Only the blank: the empty sequence, certainly.
  const std::vector<float> blank_only(4, 0.0f);
  const auto b = sp::ctc_beam_search(blank_only.data(), 4, 1);
  EXPECT_TRUE(b.front().labels.empty());
  EXPECT_NEAR(b.front().log_prob, 0.0, 1e-12);
  // Another blank id.
  const std::vector<float> lp = {std::log(0.1f), std::log(0.9f), std::log(0.9f), std::log(0.1f)};  // blank = 1
  sp::CtcBeamOptions o;
  o.blank = 1;
  EXPECT_EQ(sp::ctc_beam_search(lp.data(), 2, 2, o).front().labels, Labels{0});

  sp::CtcBeamOptions bad;
  bad.beam_width = 0;
  EXPECT_THROW(sp::ctc_beam_search(lp.data(), 2, 2, bad), std::invalid_argument);
  bad = {};
  bad.prune_nats = -1;
  EXPECT_THROW(sp::ctc_beam_search(lp.data(), 2, 2, bad), std::invalid_argument);
  bad = {};
  bad.blank = 2;
  EXPECT_THROW(sp::ctc_beam_search(lp.data(), 2, 2, bad), std::invalid_argument);
  EXPECT_THROW(sp::ctc_log_prob(lp.data(), 2, 2, {0}), std::invalid_argument);  // the blank as a label
  EXPECT_THROW(sp::ctc_log_prob(lp.data(), 2, 2, {5}), std::invalid_argument);
}

TEST(CtcBeam, CostOnEvaluationSizedUtterances) {
  // A 10 s utterance gives 248 encoder positions. Characters (29 ids) and subwords (1000 ids), beam 16, on flat
  // frames (an untrained model: nothing pruned) and peaked ones (a trained model). Printed for docs/speech.md; the
  // bound only catches a pathological slowdown on a loaded 2-core machine.
  std::mt19937_64 rng(1);
  for (const int64_t vocab : {29, 1000}) {
    for (const bool peaked : {false, true}) {
      const int64_t frames = 248;
      const auto lp = peaked ? peaked_log_probs(rng, frames, vocab) : random_log_probs(rng, frames, vocab, 0.5);
      sp::CtcBeamOptions o;
      o.beam_width = 16;
      const auto t0 = std::chrono::steady_clock::now();
      const int reps = 3;
      for (int r = 0; r < reps; ++r) sp::ctc_beam_search(lp.data(), frames, vocab, o);
      const double ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / reps;
      const auto t1 = std::chrono::steady_clock::now();
      for (int r = 0; r < reps; ++r) greedy(lp, frames, vocab);
      const double greedy_ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t1).count() / reps;
      std::printf("[ cost     ] %lld positions x %lld ids, %s frames: beam 16 %.2f ms, greedy %.3f ms per utterance\n",
                  static_cast<long long>(frames), static_cast<long long>(vocab), peaked ? "peaked" : "flat", ms,
                  greedy_ms);
      EXPECT_LT(ms, 5000.0);
    }
  }
}
