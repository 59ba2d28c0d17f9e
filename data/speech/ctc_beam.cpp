#include "data/speech/ctc_beam.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>

#include "data/speech/ctc_greedy.h"

namespace sigtrain::speech {
namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();
constexpr uint64_t kEmptyHash = 0x6a09e667f3bcc909ULL;

double log_add(double a, double b) {
  if (a == kNegInf) return b;
  if (b == kNegInf) return a;
  const double hi = std::max(a, b);
  return hi + std::log1p(std::exp(-std::abs(a - b)));
}

// The hash of prefix + token from the prefix's hash (splitmix64's finaliser over a mix of both).
uint64_t extend_hash(uint64_t h, int32_t token) {
  uint64_t x = h ^ (static_cast<uint64_t>(static_cast<uint32_t>(token)) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2));
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

void check_shape(const float* log_probs, int64_t frames, int64_t vocab, int32_t blank) {
  if (frames < 0 || vocab < 1)
    throw std::invalid_argument("CTC decoding: expected frames >= 0 and vocab >= 1, got " + std::to_string(frames) +
                                " x " + std::to_string(vocab));
  if (blank < 0 || blank >= vocab)
    throw std::invalid_argument("CTC decoding: blank id " + std::to_string(blank) + " outside [0, " +
                                std::to_string(vocab) + ")");
  if (frames > 0 && log_probs == nullptr) throw std::invalid_argument("CTC decoding: no log-probabilities");
}

std::vector<double> frame_maxima(const float* log_probs, int64_t frames, int64_t vocab) {
  std::vector<double> m(static_cast<size_t>(frames));
  for (int64_t t = 0; t < frames; ++t) {
    const float* row = log_probs + t * vocab;
    m[static_cast<size_t>(t)] = *std::max_element(row, row + vocab);
  }
  return m;
}

// Whether `labels` fit into `frames` (CTC needs a blank between equal neighbours).
bool alignable(const std::vector<int32_t>& labels, int64_t frames) {
  int64_t need = static_cast<int64_t>(labels.size());
  for (size_t i = 1; i < labels.size(); ++i) need += labels[i] == labels[i - 1] ? 1 : 0;
  return need <= frames;
}

// exp(log_probs[t][c] - m_t) for the tokens marked in `needed`, one row per frame.
struct Emissions {
  int64_t frames = 0;
  int64_t width = 0;
  std::vector<int32_t> column_of;  // [vocab]: the column of a token, -1 if not tabulated
  std::vector<double> y;           // [frames, width]
  double log_scale = 0;            // sum of m_t
};

Emissions tabulate(const float* log_probs, int64_t frames, int64_t vocab, const std::vector<double>& m,
                   const std::vector<char>& needed) {
  Emissions e;
  e.frames = frames;
  e.column_of.assign(static_cast<size_t>(vocab), -1);
  std::vector<int32_t> tokens;
  for (int32_t c = 0; c < vocab; ++c)
    if (needed[static_cast<size_t>(c)]) {
      e.column_of[static_cast<size_t>(c)] = static_cast<int32_t>(tokens.size());
      tokens.push_back(c);
    }
  e.width = static_cast<int64_t>(tokens.size());
  e.y.resize(static_cast<size_t>(frames * e.width));
  for (int64_t t = 0; t < frames; ++t) {
    const float* row = log_probs + t * vocab;
    double* out = e.y.data() + t * e.width;
    const double mt = m[static_cast<size_t>(t)];
    for (int64_t k = 0; k < e.width; ++k) out[k] = std::exp(row[tokens[static_cast<size_t>(k)]] - mt);
    e.log_scale += m[static_cast<size_t>(t)];
  }
  return e;
}

// The forward algorithm over the extended labels (blank, l1, blank, l2, ..., blank), probabilities rescaled to sum
// to 1 after every frame. Sets *underflow when a frame's sum or the end probability is 0 although the labels fit.
double forward_scaled(const Emissions& e, const std::vector<int32_t>& labels, int32_t blank, bool* underflow) {
  *underflow = false;
  const auto L = static_cast<int64_t>(labels.size());
  const int64_t S = 2 * L + 1, T = e.frames;
  std::vector<int32_t> col(static_cast<size_t>(S));
  std::vector<char> skip(static_cast<size_t>(S), 0);
  for (int64_t s = 0; s < S; ++s) {
    const int32_t tok = s % 2 == 0 ? blank : labels[static_cast<size_t>(s / 2)];
    col[static_cast<size_t>(s)] = e.column_of[static_cast<size_t>(tok)];
    skip[static_cast<size_t>(s)] =
        s % 2 == 1 && s >= 3 && labels[static_cast<size_t>(s / 2)] != labels[static_cast<size_t>(s / 2 - 1)];
  }
  std::vector<double> a(static_cast<size_t>(S), 0.0), b(static_cast<size_t>(S), 0.0);
  double log_scale = e.log_scale;
  auto normalise = [&](std::vector<double>& v, int64_t from, int64_t to) {
    double sum = 0;
    for (int64_t s = from; s < to; ++s) sum += v[static_cast<size_t>(s)];
    if (!(sum > 0) || !std::isfinite(sum)) return false;
    const double inv = 1.0 / sum;
    for (int64_t s = from; s < to; ++s) v[static_cast<size_t>(s)] *= inv;
    log_scale += std::log(sum);
    return true;
  };
  a[0] = e.y[static_cast<size_t>(col[0])];
  if (S > 1) a[1] = e.y[static_cast<size_t>(col[1])];
  if (!normalise(a, 0, std::min<int64_t>(S, 2))) {
    *underflow = true;
    return kNegInf;
  }
  for (int64_t t = 1; t < T; ++t) {
    const double* yt = e.y.data() + t * e.width;
    // Only states reachable after t + 1 frames (s < reach) from which the end is still reachable (s >= lo).
    const int64_t reach = std::min(S, 2 * t + 2), lo = std::max<int64_t>(0, S - 2 * (T - t));
    std::fill(b.begin(), b.begin() + lo, 0.0);
    for (int64_t s = lo; s < reach; ++s) {
      double v = a[static_cast<size_t>(s)];
      if (s >= 1) v += a[static_cast<size_t>(s - 1)];
      if (skip[static_cast<size_t>(s)]) v += a[static_cast<size_t>(s - 2)];
      b[static_cast<size_t>(s)] = v * yt[col[static_cast<size_t>(s)]];
    }
    std::swap(a, b);
    if (!normalise(a, lo, reach)) {
      *underflow = true;
      return kNegInf;
    }
  }
  const double end = a[static_cast<size_t>(S - 1)] + (S > 1 ? a[static_cast<size_t>(S - 2)] : 0.0);
  if (!(end > 0)) {
    *underflow = true;
    return kNegInf;
  }
  return std::log(end) + log_scale;
}

// The same in log space: slower, never underflows.
double forward_log(const float* log_probs, int64_t frames, int64_t vocab, const std::vector<int32_t>& labels,
                   int32_t blank) {
  const auto L = static_cast<int64_t>(labels.size());
  const int64_t S = 2 * L + 1;
  auto token = [&](int64_t s) { return s % 2 == 0 ? blank : labels[static_cast<size_t>(s / 2)]; };
  std::vector<double> a(static_cast<size_t>(S), kNegInf), b(static_cast<size_t>(S), kNegInf);
  a[0] = log_probs[token(0)];
  if (S > 1) a[1] = log_probs[token(1)];
  for (int64_t t = 1; t < frames; ++t) {
    const float* row = log_probs + t * vocab;
    for (int64_t s = 0; s < S; ++s) {
      double v = a[static_cast<size_t>(s)];
      if (s >= 1) v = log_add(v, a[static_cast<size_t>(s - 1)]);
      if (s % 2 == 1 && s >= 3 && token(s) != token(s - 2)) v = log_add(v, a[static_cast<size_t>(s - 2)]);
      b[static_cast<size_t>(s)] = v == kNegInf ? kNegInf : v + row[token(s)];
    }
    std::swap(a, b);
  }
  return S > 1 ? log_add(a[static_cast<size_t>(S - 1)], a[static_cast<size_t>(S - 2)]) : a[0];
}

double exact_log_prob(const Emissions& e, const float* log_probs, int64_t frames, int64_t vocab,
                      const std::vector<int32_t>& labels, int32_t blank) {
  if (frames == 0) return labels.empty() ? 0.0 : kNegInf;
  if (!alignable(labels, frames)) return kNegInf;
  bool underflow = false;
  const double lp = forward_scaled(e, labels, blank, &underflow);
  return underflow ? forward_log(log_probs, frames, vocab, labels, blank) : lp;
}

}  // namespace

double ctc_log_prob(const float* log_probs, int64_t frames, int64_t vocab, const std::vector<int32_t>& labels,
                    int32_t blank) {
  check_shape(log_probs, frames, vocab, blank);
  std::vector<char> needed(static_cast<size_t>(vocab), 0);
  needed[static_cast<size_t>(blank)] = 1;
  for (const int32_t l : labels) {
    if (l < 0 || l >= vocab || l == blank)
      throw std::invalid_argument("ctc_log_prob: label " + std::to_string(l) + " is the blank or outside [0, " +
                                  std::to_string(vocab) + ")");
    needed[static_cast<size_t>(l)] = 1;
  }
  if (frames == 0) return labels.empty() ? 0.0 : kNegInf;
  const Emissions e = tabulate(log_probs, frames, vocab, frame_maxima(log_probs, frames, vocab), needed);
  return exact_log_prob(e, log_probs, frames, vocab, labels, blank);
}

std::vector<CtcHypothesis> ctc_beam_search(const float* log_probs, int64_t frames, int64_t vocab,
                                           const CtcBeamOptions& o) {
  check_shape(log_probs, frames, vocab, o.blank);
  if (o.beam_width < 1) throw std::invalid_argument("CTC beam search: beam_width must be >= 1");
  if (!(o.prune_nats >= 0)) throw std::invalid_argument("CTC beam search: prune_nats must be >= 0 (0 = no pruning)");
  if (frames == 0) return {CtcHypothesis{}};

  // A kept prefix: its labels, P(prefix, last frame blank) and P(prefix, last frame a label), both relative to the
  // frame's best prefix, its hash and its parent's (the prefix without its last label).
  struct Prefix {
    std::vector<int32_t> labels;
    double pb = 0, pnb = 0;
    uint64_t hash = kEmptyHash, parent_hash = 0;
  };
  // A prefix extended by one label that is not already kept.
  struct Extension {
    int32_t parent;
    int32_t token;
    double p;
  };
  const int32_t blank = o.blank;
  const int64_t token_limit = o.beam_width + 1;
  std::vector<Prefix> beam(1), next;
  beam[0].pb = 1.0;
  std::vector<double> m(static_cast<size_t>(frames));
  std::vector<double> y(static_cast<size_t>(vocab), 0.0);
  std::vector<int32_t> tokens;
  std::vector<int32_t> child_of(static_cast<size_t>(vocab), -1);
  std::unordered_map<uint64_t, int32_t> index_of;
  std::vector<std::pair<int32_t, int32_t>> links;  // (parent index, child index) among the kept prefixes
  std::vector<Extension> ext;
  std::vector<double> stay_pb, stay_pnb;
  std::vector<int64_t> order;

  for (int64_t t = 0; t < frames; ++t) {
    const float* row = log_probs + t * vocab;
    const double mt = *std::max_element(row, row + vocab);
    m[static_cast<size_t>(t)] = mt;
    // Labels that may start a new prefix: the frame's beam_width + 1 most probable ones (a prefix extended by any
    // other label is beaten by beam_width extensions of the same prefix, so it could not be kept), within
    // prune_nats of the best. Extensions into prefixes already kept are added for every label, pruned or not.
    tokens.clear();
    for (int32_t c = 0; c < vocab; ++c)
      if (c != blank && (o.prune_nats <= 0 || row[c] >= mt - o.prune_nats)) tokens.push_back(c);
    if (static_cast<int64_t>(tokens.size()) > token_limit) {
      auto more_probable = [&](int32_t a, int32_t b) { return row[a] > row[b] || (row[a] == row[b] && a < b); };
      std::nth_element(tokens.begin(), tokens.begin() + token_limit, tokens.end(), more_probable);
      tokens.resize(static_cast<size_t>(token_limit));
    }
    for (const int32_t c : tokens) y[static_cast<size_t>(c)] = std::exp(row[c] - mt);
    const double y_blank = std::exp(row[blank] - mt);
    const auto n = static_cast<int32_t>(beam.size());

    // Which kept prefixes extend another kept prefix by one label: their extension merges into them.
    index_of.clear();
    for (int32_t i = 0; i < n; ++i) index_of.emplace(beam[static_cast<size_t>(i)].hash, i);
    links.clear();
    for (int32_t i = 0; i < n; ++i) {
      const auto& li = beam[static_cast<size_t>(i)].labels;
      if (li.empty()) continue;
      auto is_parent = [&](int32_t j) {
        const auto& lj = beam[static_cast<size_t>(j)].labels;
        return lj.size() + 1 == li.size() && std::equal(lj.begin(), lj.end(), li.begin());
      };
      int32_t parent = -1;
      const auto it = index_of.find(beam[static_cast<size_t>(i)].parent_hash);
      if (it != index_of.end() && is_parent(it->second)) {
        parent = it->second;
      } else if (it != index_of.end()) {  // a hash collision: look for the parent the slow way
        for (int32_t j = 0; j < n && parent < 0; ++j)
          if (is_parent(j)) parent = j;
      }
      if (parent >= 0) links.emplace_back(parent, i);
    }
    std::sort(links.begin(), links.end());

    // Staying on a prefix: a blank, or the prefix's last label repeated (merged by the collapse).
    stay_pb.assign(static_cast<size_t>(n), 0.0);
    stay_pnb.assign(static_cast<size_t>(n), 0.0);
    for (int32_t i = 0; i < n; ++i) {
      const Prefix& p = beam[static_cast<size_t>(i)];
      stay_pb[static_cast<size_t>(i)] = (p.pb + p.pnb) * y_blank;
      if (!p.labels.empty()) stay_pnb[static_cast<size_t>(i)] = p.pnb * std::exp(row[p.labels.back()] - mt);
    }
    // Extending a prefix by a label (after a blank when it repeats the last label): into a kept child, or a new
    // candidate.
    ext.clear();
    size_t link = 0;
    for (int32_t j = 0; j < n; ++j) {
      const Prefix& p = beam[static_cast<size_t>(j)];
      const int32_t last = p.labels.empty() ? -1 : p.labels.back();
      const double total = p.pb + p.pnb;
      const size_t first_link = link;
      for (; link < links.size() && links[link].first == j; ++link) {
        const int32_t child = links[link].second;
        const int32_t c = beam[static_cast<size_t>(child)].labels.back();
        child_of[static_cast<size_t>(c)] = child;
        stay_pnb[static_cast<size_t>(child)] += (c == last ? p.pb : total) * std::exp(row[c] - mt);
      }
      for (const int32_t c : tokens) {
        if (child_of[static_cast<size_t>(c)] >= 0) continue;  // added above
        const double q = (c == last ? p.pb : total) * y[static_cast<size_t>(c)];
        if (q > 0) ext.push_back({j, c, q});
      }
      for (size_t k = first_link; k < link; ++k)
        child_of[static_cast<size_t>(beam[static_cast<size_t>(links[k].second)].labels.back())] = -1;
    }

    // The beam_width most probable candidates (stays are indices [0, n), extensions n + k), ties by index.
    auto score = [&](int64_t k) {
      return k < n ? stay_pb[static_cast<size_t>(k)] + stay_pnb[static_cast<size_t>(k)]
                   : ext[static_cast<size_t>(k - n)].p;
    };
    order.clear();
    const int64_t candidates = n + static_cast<int64_t>(ext.size());
    for (int64_t k = 0; k < candidates; ++k)
      if (score(k) > 0) order.push_back(k);
    auto better = [&](int64_t a, int64_t b) {
      const double sa = score(a), sb = score(b);
      return sa > sb || (sa == sb && a < b);
    };
    if (static_cast<int64_t>(order.size()) > o.beam_width) {
      std::nth_element(order.begin(), order.begin() + o.beam_width, order.end(), better);
      order.resize(static_cast<size_t>(o.beam_width));
    }
    std::sort(order.begin(), order.end(), better);
    if (order.empty()) break;  // cannot happen: the frame's best label or the blank keeps a positive score
    const double inv = 1.0 / score(order.front());

    // Extensions copy their parent's labels before the stays move theirs out.
    next.assign(order.size(), Prefix{});
    for (size_t r = 0; r < order.size(); ++r) {
      const int64_t k = order[r];
      if (k < n) continue;
      const Extension& e = ext[static_cast<size_t>(k - n)];
      const Prefix& parent = beam[static_cast<size_t>(e.parent)];
      Prefix& q = next[r];
      q.labels.reserve(parent.labels.size() + 1);
      q.labels = parent.labels;
      q.labels.push_back(e.token);
      q.pb = 0;
      q.pnb = e.p * inv;
      q.parent_hash = parent.hash;
      q.hash = extend_hash(parent.hash, e.token);
    }
    for (size_t r = 0; r < order.size(); ++r) {
      const int64_t k = order[r];
      if (k >= n) continue;
      Prefix& q = next[r];
      q = std::move(beam[static_cast<size_t>(k)]);
      q.pb = stay_pb[static_cast<size_t>(k)] * inv;
      q.pnb = stay_pnb[static_cast<size_t>(k)] * inv;
    }
    std::swap(beam, next);
  }

  // Rescore the final prefixes (and the greedy hypothesis) exactly.
  std::vector<CtcHypothesis> out;
  out.reserve(beam.size() + 1);
  for (auto& p : beam) out.push_back({std::move(p.labels), 0.0});
  if (o.with_greedy) {
    std::vector<int32_t> greedy = ctc_collapse(argmax_ids(log_probs, frames, vocab), blank);
    if (std::none_of(out.begin(), out.end(), [&](const CtcHypothesis& h) { return h.labels == greedy; }))
      out.push_back({std::move(greedy), 0.0});
  }
  std::vector<char> needed(static_cast<size_t>(vocab), 0);
  needed[static_cast<size_t>(blank)] = 1;
  for (const auto& h : out)
    for (const int32_t l : h.labels) needed[static_cast<size_t>(l)] = 1;
  const Emissions e = tabulate(log_probs, frames, vocab, m, needed);
  for (auto& h : out) h.log_prob = exact_log_prob(e, log_probs, frames, vocab, h.labels, blank);
  std::stable_sort(out.begin(), out.end(),
                   [](const CtcHypothesis& a, const CtcHypothesis& b) { return a.log_prob > b.log_prob; });
  return out;
}

}  // namespace sigtrain::speech
