// Stability instruments: device-side measurements queued per step, read back once per logging step.
#include "trainer/instruments/monitor.h"

#include <torch/optim/adamw.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstdio>
#include <map>

#include "common/log.h"
#include "trainer/instruments/h5_series_writer.h"

namespace sigtrain::trainer {

namespace {

constexpr int kAttentionStats = 5;  // max |logit|, row mass mean, row mass max, ‖PV‖, block-output RMS
const char* const kAttentionNames[kAttentionStats] = {"max_abs_logit", "row_mass_mean", "row_mass_max", "pv_norm",
                                                      "block_rms"};

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

struct MeanStd {
  double mean = 0, std = 0;
};
MeanStd mean_std(const std::deque<double>& w) {
  MeanStd r;
  if (w.empty()) return r;
  for (double x : w) r.mean += x;
  r.mean /= static_cast<double>(w.size());
  double var = 0;
  for (double x : w) var += (x - r.mean) * (x - r.mean);
  r.std = std::sqrt(var / static_cast<double>(w.size()));
  return r;
}

// z-score of x against the window of previous values (llm.c's outlier detector): NaN for a non-finite x, 0 while
// the window has fewer than 2 values or no spread.
double zscore(const std::deque<double>& w, double x) {
  if (!std::isfinite(x)) return NAN;
  if (w.size() < 2) return 0.0;
  auto ms = mean_std(w);
  return ms.std > 0 ? (x - ms.mean) / ms.std : 0.0;
}

double median(const std::deque<double>& w) {
  std::vector<double> v(w.begin(), w.end());
  if (v.empty()) return NAN;
  auto mid = v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2);
  std::nth_element(v.begin(), mid, v.end());
  return *mid;
}

void push_window(std::deque<double>& w, double x, int64_t size) {
  if (!std::isfinite(x)) return;
  w.push_back(x);
  while (static_cast<int64_t>(w.size()) > size) w.pop_front();
}

}  // namespace

Monitor::Monitor(const MonitorConfig& cfg, models::Model& model, const std::string& h5_path, int64_t resume_step)
    : cfg_(cfg), model_(model) {
  infos_ = model.param_info();
  n_layer_ = model.n_layer();
  // One bucket per declared group that has parameters, in the groups' reporting order.
  std::map<models::ParamGroup, int64_t> group_index;
  for (const models::ParamGroup g : models::kAllParamGroups)
    for (const auto& p : infos_)
      if (p.group == g) {
        group_index[g] = static_cast<int64_t>(group_names_.size());
        group_names_.push_back(models::to_string(g));
        break;
      }
  std::vector<int64_t> layer_bin, group_bin;
  for (const auto& p : infos_) {
    layer_bin.push_back(p.layer >= 0 && p.layer < n_layer_ ? p.layer : n_layer_);
    group_bin.push_back(group_index.at(p.group));
  }
  n_bins_ = n_layer_ + static_cast<int64_t>(group_names_.size()) + 1;
  auto dev = infos_.empty() ? torch::Device(torch::kCPU) : infos_.front().param.device();
  bin_layer_ = torch::tensor(layer_bin, torch::kLong).to(dev);
  bin_group_ = torch::tensor(group_bin, torch::kLong).to(dev);
  if (cfg_.h5 && !h5_path.empty()) h5_ = std::make_unique<H5SeriesWriter>(h5_path, resume_step);
}

Monitor::~Monitor() = default;

std::vector<torch::Tensor> Monitor::params() const {
  std::vector<torch::Tensor> out;
  out.reserve(infos_.size());
  for (const auto& p : infos_) out.push_back(p.param);
  return out;
}

torch::Tensor Monitor::binned_norms(const std::vector<torch::Tensor>& tensors) const {
  torch::NoGradGuard no_grad;
  TORCH_CHECK(tensors.size() == infos_.size(), "binned_norms: expected one tensor per parameter");
  std::vector<torch::Tensor> defined;
  std::vector<size_t> where;
  for (size_t i = 0; i < tensors.size(); ++i)
    if (tensors[i].defined()) {
      defined.push_back(tensors[i]);
      where.push_back(i);
    }
  auto dev = bin_layer_.device();
  auto f32 = torch::TensorOptions().dtype(torch::kFloat32).device(dev);
  torch::Tensor sq = torch::zeros({static_cast<int64_t>(tensors.size())}, f32);
  if (!defined.empty()) {
    auto norms = torch::stack(at::_foreach_norm(defined, 2)).to(torch::kFloat32);
    if (defined.size() == tensors.size()) sq = norms.pow(2);
    else sq.index_copy_(0, torch::tensor(std::vector<int64_t>(where.begin(), where.end()), torch::kLong).to(dev),
                        norms.pow(2));
  }
  auto layers = torch::zeros({n_layer_ + 1}, f32).index_add_(0, bin_layer_, sq).narrow(0, 0, n_layer_);
  auto groups = torch::zeros({static_cast<int64_t>(group_names_.size())}, f32).index_add_(0, bin_group_, sq);
  return torch::cat({layers, groups, sq.sum().reshape({1})}).sqrt();
}

void Monitor::begin_step(int64_t step) {
  step_ = step;
  skipped_this_step_ = false;
}

void Monitor::before_forward(int64_t micro) {
  if (micro == 0 && due(cfg_.attention_every)) {
    model_.set_collect_attention_stats(true, cfg_.attention_sample_batch);
    collecting_attention_ = true;
  } else if (micro > 0) {
    model_.set_collect_attention_stats(false);
  }
}

void Monitor::after_backward() {
  torch::NoGradGuard no_grad;
  if (collecting_attention_) {
    model_.set_collect_attention_stats(false);
    collecting_attention_ = false;
    auto stats = model_.attention_stats();
    auto rms = model_.block_output_rms();
    auto dev = bin_layer_.device();
    auto nan = torch::full({}, NAN, torch::TensorOptions().dtype(torch::kFloat32).device(dev));
    std::vector<torch::Tensor> v;
    v.reserve(static_cast<size_t>(kAttentionStats * n_layer_));
    auto val = [&](const torch::Tensor& t, bool ok) { return ok && t.defined() ? t.to(dev, torch::kFloat32) : nan; };
    for (const auto& s : stats) v.push_back(val(s.max_abs_logit, s.valid));
    for (const auto& s : stats) v.push_back(val(s.row_mass_mean, s.valid));
    for (const auto& s : stats) v.push_back(val(s.row_mass_max, s.valid));
    for (const auto& s : stats) v.push_back(val(s.pv_norm, s.valid));
    for (const auto& r : rms) v.push_back(val(r, true));
    if (!stats.empty()) {
      attention_via_reference_ = stats.front().via_reference;
      attention_sampled_batch_ = stats.front().sampled_batch;
    }
    if (!v.empty()) pending_.push_back({Kind::kAttention, step_, torch::stack(v), 0, false});
  }
  if (due(cfg_.grad_norms_every)) {
    std::vector<torch::Tensor> grads;
    grads.reserve(infos_.size());
    for (const auto& p : infos_) grads.push_back(p.param.grad());
    pending_.push_back({Kind::kGrads, step_, binned_norms(grads), 0, false});
  }
}

bool Monitor::allow_update(const torch::Tensor& loss, const torch::Tensor& grad_norm) {
  if (cfg_.on_nonfinite != NonFinitePolicy::kSkipStep) return true;
  torch::NoGradGuard no_grad;
  auto flag = torch::logical_or(torch::isfinite(loss.detach()).logical_not(),
                                torch::isfinite(grad_norm.detach()).logical_not())
                  .to(torch::kFloat32)
                  .reshape({1});
  const bool bad = flag.item<float>() > 0;  // the one per-step host sync, only under skip_step
  if (bad) {
    skipped_this_step_ = true;
    ++skipped_steps_;
    log::warn("step " + std::to_string(step_) + ": non-finite loss or gradients; update skipped (on_nonfinite: " +
              "skip_step, " + std::to_string(skipped_steps_) + " skipped so far)");
  }
  return !bad;
}

void Monitor::before_update() {
  if (!due(cfg_.update_ratio_every)) return;
  torch::NoGradGuard no_grad;
  before_update_ = at::_foreach_mul(params(), 1.0);  // one multi-tensor copy of θ
}

void Monitor::after_update(torch::optim::Optimizer& optimizer) {
  torch::NoGradGuard no_grad;
  const bool want_update = !before_update_.empty();
  const bool want_params = due(cfg_.param_norms_every);
  if (want_update || want_params) {
    auto p = params();
    auto pn = binned_norms(p);
    if (want_params) pending_.push_back({Kind::kParams, step_, pn, 0, false});
    if (want_update) {
      auto delta = at::_foreach_sub(p, before_update_);
      pending_.push_back({Kind::kUpdate, step_, binned_norms(delta) / pn, 0, false});
      before_update_.clear();
    }
  }
  if (due(cfg_.adam_every)) {
    std::vector<torch::Tensor> v, m;
    auto& state = optimizer.state();
    for (const auto& info : infos_) {
      auto it = state.find(info.param.unsafeGetTensorImpl());
      auto* adam = it == state.end() ? nullptr : dynamic_cast<torch::optim::AdamWParamState*>(it->second.get());
      v.push_back(adam ? adam->exp_avg_sq() : torch::Tensor());
      m.push_back(adam ? adam->exp_avg() : torch::Tensor());
    }
    pending_.push_back({Kind::kAdam, step_, torch::cat({binned_norms(v), binned_norms(m)}), 0, false});
  }
}

void Monitor::end_step(const torch::Tensor& loss, const torch::Tensor& grad_norm, double lr) {
  torch::NoGradGuard no_grad;
  auto v = torch::stack({loss.detach().to(torch::kFloat32).reshape({}), grad_norm.detach().to(torch::kFloat32).reshape({})});
  pending_.push_back({Kind::kStep, step_, v, lr, skipped_this_step_});
}

void Monitor::declare_divergence(int64_t step, const std::string& reason) {
  if (diverged_step_ > 0) return;
  diverged_step_ = step;
  reason_ = reason;
  log::error("divergence detected: " + reason);
}

void Monitor::process_step(int64_t step, double loss, double gnorm, double lr, bool skipped) {
  const bool finite = std::isfinite(loss) && std::isfinite(gnorm);
  const double zl = zscore(loss_window_, loss), zg = zscore(gnorm_window_, gnorm);
  if (!finite) {
    ++nonfinite_steps_;
    if (!std::isfinite(loss)) ++nonfinite_loss_steps_;
    ++nonfinite_streak_;
    bad_streak_ = 0;
    const std::string what = std::string(std::isfinite(loss) ? "gradient norm" : "loss");
    switch (cfg_.on_nonfinite) {
      case NonFinitePolicy::kStop:
        declare_divergence(step, "non-finite " + what + " at step " + std::to_string(step) + " (on_nonfinite: stop)");
        stop_ = true;
        break;
      case NonFinitePolicy::kSkipStep:
        if (nonfinite_streak_ >= cfg_.divergence.patience) {
          declare_divergence(step - nonfinite_streak_ + 1,
                             "non-finite loss or gradients for " + std::to_string(nonfinite_streak_) +
                                 " consecutive steps (all skipped) from step " +
                                 std::to_string(step - nonfinite_streak_ + 1));
          if (cfg_.divergence.stop) stop_ = true;
        }
        break;
      case NonFinitePolicy::kContinue:
        if (!std::isfinite(loss)) {
          declare_divergence(step, "non-finite loss at step " + std::to_string(step) + " (on_nonfinite: continue)");
          if (cfg_.divergence.stop) stop_ = true;
        }
        break;
    }
  } else {
    nonfinite_streak_ = 0;
    max_grad_norm_ = std::max(max_grad_norm_, gnorm);
    if (cfg_.divergence.enabled && static_cast<int64_t>(gnorm_window_.size()) >= cfg_.divergence.min_history) {
      const double med = median(gnorm_window_);
      const double ratio = med > 0 ? gnorm / med : 0.0;
      const bool bad = zg > cfg_.divergence.zscore || ratio > cfg_.divergence.median_ratio;
      if (bad) {
        if (bad_streak_ == 0) bad_streak_start_ = step;
        ++bad_streak_;
        if (bad_streak_ >= cfg_.divergence.patience) {
          declare_divergence(bad_streak_start_,
                             "gradient norm above the limits (z-score > " + fmt(cfg_.divergence.zscore) +
                                 " or > " + fmt(cfg_.divergence.median_ratio) + "x the running median) for " +
                                 std::to_string(bad_streak_) + " consecutive steps from step " +
                                 std::to_string(bad_streak_start_) + "; at step " + std::to_string(step) +
                                 ": grad norm " + fmt(gnorm) + ", z " + fmt(zg) + ", " + fmt(ratio) +
                                 "x the median " + fmt(med));
          if (cfg_.divergence.stop) stop_ = true;
        }
      } else {
        bad_streak_ = 0;
      }
    }
  }
  push_window(loss_window_, loss, cfg_.window);
  push_window(gnorm_window_, gnorm, cfg_.window);
  latest_ = {step, loss, gnorm, zl, zg};
  (void)lr;
  (void)skipped;
}

void Monitor::record_bins(const std::string& key, const float* v) {
  for (size_t g = 0; g < group_names_.size(); ++g) new_scalars_[key + "/" + group_names_[g]] = v[n_layer_ + g];
  new_scalars_[key + "/total"] = v[n_bins_ - 1];
}

void Monitor::write_bins(const std::string& group, int64_t step, const float* v, const std::string& layers_name,
                         const std::string& prefix) {
  if (!h5_) return;
  if (prefix.empty() || prefix == "v_") h5_->append_i64(group + "/step", &step, 1);
  h5_->append_f32(group + "/" + prefix + layers_name, v, 1, n_layer_);
  for (size_t g = 0; g < group_names_.size(); ++g)
    h5_->append_f32(group + "/" + prefix + group_names_[g], v + n_layer_ + g, 1);
  h5_->append_f32(group + "/" + prefix + "total", v + n_bins_ - 1, 1);
}

void Monitor::process(const Pending& p, const float* v) {
  switch (p.kind) {
    case Kind::kStep: break;  // handled in sync() (batched)
    case Kind::kGrads: {
      record_bins("grad_norm", v);
      float mx = 0;
      for (int64_t l = 0; l < n_layer_; ++l) mx = std::max(mx, v[l]);
      new_scalars_["grad_norm/max_layer"] = mx;
      write_bins("grads", p.step, v, "layers");
      break;
    }
    case Kind::kParams:
      record_bins("param_norm", v);
      write_bins("params", p.step, v, "layers");
      break;
    case Kind::kUpdate:
      record_bins("update_ratio", v);
      write_bins("update", p.step, v, "layers");
      break;
    case Kind::kAdam:
      record_bins("adam_v_norm", v);
      new_scalars_["adam_m_norm/total"] = v[2 * n_bins_ - 1];
      write_bins("adam", p.step, v, "layers", "v_");
      write_bins("adam", p.step, v + n_bins_, "layers", "m_");
      break;
    case Kind::kAttention: {
      const int64_t L = n_layer_;
      auto max_of = [&](int k) {
        double m = -INFINITY;
        for (int64_t l = 0; l < L; ++l) m = std::max<double>(m, v[k * L + l]);
        return m;
      };
      double mass = 0;
      for (int64_t l = 0; l < L; ++l) mass += v[1 * L + l];
      new_scalars_["attn/max_abs_logit"] = max_of(0);
      new_scalars_["attn/row_mass_mean"] = L ? mass / static_cast<double>(L) : NAN;
      new_scalars_["attn/row_mass_max"] = max_of(2);
      new_scalars_["attn/pv_norm_max"] = max_of(3);
      new_scalars_["block_rms/max"] = max_of(4);
      if (h5_) {
        h5_->append_i64("attention/step", &p.step, 1);
        if (!wrote_attention_attrs_) {
          h5_->set_attr("attention", "via_reference", attention_via_reference_ ? "true" : "false");
          h5_->set_attr("attention", "sampled_batch", std::to_string(attention_sampled_batch_));
          wrote_attention_attrs_ = true;
        }
        for (int k = 0; k < kAttentionStats; ++k)
          h5_->append_f32(std::string("attention/") + kAttentionNames[k], v + k * L, 1, L);
      }
      break;
    }
  }
}

void Monitor::sync() {
  if (!pending_.empty()) {
    std::vector<torch::Tensor> parts;
    parts.reserve(pending_.size());
    for (const auto& p : pending_) parts.push_back(p.values);
    torch::Tensor host = torch::cat(parts).to(torch::kCPU);  // the one device -> host copy
    const float* v = host.data_ptr<float>();
    std::vector<int64_t> steps;
    std::vector<float> loss, gnorm, lz, gz, lr, skipped;
    if (h5_ && !wrote_layout_) {
      h5_->set_attr("", "format", "sigtrain-metrics/1");
      h5_->set_attr("", "n_layer", std::to_string(n_layer_));
      std::string groups;
      for (const auto& g : group_names_) groups += (groups.empty() ? "" : ",") + g;
      h5_->set_attr("", "groups", groups);
      h5_->set_attr("", "attention_kind", models::to_string(model_.attention_config().kind));
      h5_->set_attr("", "attention_backend", model_.attention_config().backend);
      wrote_layout_ = true;
    }
    for (const auto& p : pending_) {
      if (p.kind == Kind::kStep) {
        process_step(p.step, v[0], v[1], p.lr, p.skipped);
        steps.push_back(p.step);
        loss.push_back(v[0]);
        gnorm.push_back(v[1]);
        lz.push_back(static_cast<float>(latest_.loss_z));
        gz.push_back(static_cast<float>(latest_.grad_norm_z));
        lr.push_back(static_cast<float>(p.lr));
        skipped.push_back(p.skipped ? 1.f : 0.f);
      } else {
        process(p, v);
      }
      v += p.values.numel();
    }
    pending_.clear();
    if (h5_ && !steps.empty()) {
      const auto n = static_cast<int64_t>(steps.size());
      h5_->append_i64("steps/step", steps.data(), n);
      h5_->append_f32("steps/loss", loss.data(), n);
      h5_->append_f32("steps/grad_norm", gnorm.data(), n);
      h5_->append_f32("steps/loss_z", lz.data(), n);
      h5_->append_f32("steps/grad_norm_z", gz.data(), n);
      h5_->append_f32("steps/lr", lr.data(), n);
      h5_->append_f32("steps/skipped", skipped.data(), n);
    }
    if (h5_) h5_->flush();
  }
}

void Monitor::record_evaluation(int64_t step, const std::vector<std::pair<std::string, double>>& values) {
  if (!h5_) return;
  h5_->append_i64("eval/step", &step, 1);
  for (const auto& [name, value] : values) {
    const float v = static_cast<float>(value);
    h5_->append_f32("eval/" + name, &v, 1);
  }
  h5_->flush();
}

void Monitor::add_scalars(nlohmann::json& record) {
  record["loss_z"] = latest_.loss_z;
  record["grad_norm_z"] = latest_.grad_norm_z;
  record["nonfinite_steps"] = nonfinite_steps_;
  if (cfg_.on_nonfinite == NonFinitePolicy::kSkipStep) record["skipped_steps"] = skipped_steps_;
  for (auto& [k, val] : new_scalars_.items()) record[k] = val;
  new_scalars_ = nlohmann::json::object();
}

nlohmann::json Monitor::summary() const {
  nlohmann::json j = {{"nonfinite_steps", nonfinite_steps_},
                      {"nonfinite_loss_steps", nonfinite_loss_steps_},
                      {"skipped_steps", skipped_steps_},
                      {"max_grad_norm", max_grad_norm_},
                      {"on_nonfinite", to_string(cfg_.on_nonfinite)}};
  if (diverged()) j["divergence"] = {{"step", diverged_step_}, {"reason", reason_}};
  return j;
}

}  // namespace sigtrain::trainer
