// `sigtrain report`: side-by-side comparison of runs, plots through scripts/plot_report.py. Torch-free.
#include "trainer/instruments/report.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/atomic_file.h"
#include "common/config.h"
#include "common/exit_status.h"
#include "trainer/instruments/h5_series_writer.h"

namespace sigtrain::trainer {
namespace fs = std::filesystem;

namespace {

// The attention statistics whose last logged value (max over layers) the report prints where the runs measured them
// (monitor.attention_every): what a stress run's failure looks like when its gradient norm does not show it
// (unbounded logits, row mass). metrics.jsonl key, row label.
const std::pair<const char*, const char*> kLastAttentionRows[] = {
    {"attn/max_abs_logit", "max abs logit, last measured"}, {"attn/row_mass_max", "max row mass, last measured"}};

struct RunData {
  std::string dir, name;
  nlohmann::json summary = nlohmann::json::object();
  std::string attention_kind = "?", attention_backend = "?", arch = "?";
  long long seq_len = 0;
  std::vector<long long> steps;     // per step (metrics.h5) or per logged step (metrics.jsonl)
  std::vector<double> loss, grad_norm;
  std::vector<double> tokens_per_s;  // per logged step (jsonl)
  std::vector<long long> val_steps;
  std::vector<double> val_loss;
  std::map<std::string, std::vector<double>> eval_values;  // every other number of the eval records, by key
  std::map<std::string, double> last_attention;  // the last logged attention statistics (attn/… keys), by key
  nlohmann::json layers = nlohmann::json::object();     // grads/: step, values [n][L]
  nlohmann::json attention = nlohmann::json::object();  // attention/: step, <stat> [n][L]
  nlohmann::json update = nlohmann::json::object();     // update/: step, layers [n][L]
  bool has_config = false;
  std::string seed = "?";                                // train.seed of config.yaml
  std::map<std::string, std::string> config;            // config.yaml flattened: dotted key -> value as text
};

// A sequence or a scalar as one line of text ("[0.9, 0.95]"), for comparing two runs' configs.
std::string node_text(const config::Node& n) {
  switch (n.kind) {
    case config::Node::Kind::kScalar:
      return n.scalar;
    case config::Node::Kind::kSequence: {
      std::string t = "[";
      for (size_t i = 0; i < n.items.size(); ++i) t += (i ? ", " : "") + node_text(n.items[i]);
      return t + "]";
    }
    case config::Node::Kind::kMap: {
      std::string t = "{";
      for (size_t i = 0; i < n.entries.size(); ++i)
        t += (i ? ", " : "") + n.entries[i].first + ": " + node_text(n.entries[i].second);
      return t + "}";
    }
    default:
      return "~";
  }
}

void flatten_config(const config::Node& n, const std::string& prefix, std::map<std::string, std::string>* out) {
  if (n.kind == config::Node::Kind::kMap) {
    for (const auto& [key, child] : n.entries) flatten_config(child, prefix.empty() ? key : prefix + "." + key, out);
  } else {
    (*out)[prefix] = node_text(n);
  }
}

std::string config_scalar(const config::Node& root, const std::string& section, const std::string& key) {
  const config::Node* s = root.find(section);
  const config::Node* k = s ? s->find(key) : nullptr;
  return k && k->kind == config::Node::Kind::kScalar ? k->scalar : "?";
}

nlohmann::json matrix(const H5Series& s) {
  nlohmann::json rows = nlohmann::json::array();
  for (int64_t r = 0; r < s.rows(); ++r) {
    nlohmann::json row = nlohmann::json::array();
    for (int64_t c = 0; c < s.width(); ++c) row.push_back(s.values[r * s.width() + c]);
    rows.push_back(std::move(row));
  }
  return rows;
}

// Reads a group with a `step` dataset and the named 2-D series.
nlohmann::json read_group(const std::string& h5, const std::string& group, const std::vector<std::string>& names) {
  nlohmann::json out = nlohmann::json::object();
  H5Series step;
  if (!h5_read_series(h5, group + "/step", &step)) return out;
  out["step"] = step.values;
  for (const auto& n : names) {
    H5Series s;
    if (h5_read_series(h5, group + "/" + n, &s)) out[n] = matrix(s);
  }
  return out;
}

RunData load_run(const std::string& dir) {
  RunData r;
  r.dir = dir;
  r.name = fs::path(dir).filename().string();
  if (r.name.empty()) r.name = fs::path(dir).parent_path().filename().string();
  const fs::path p(dir);
  const bool has_summary = fs::exists(p / "summary.json"), has_metrics = fs::exists(p / "metrics.jsonl");
  if (!has_summary && !has_metrics)
    throw InputError(dir + ": not a run folder (it has no summary.json or metrics.jsonl)");
  if (has_summary) {  // written atomically: unreadable means damaged, and a guessed row would misreport the run
    std::ifstream in(p / "summary.json");
    r.summary = nlohmann::json::parse(in, nullptr, false);
    if (r.summary.is_discarded() || !r.summary.is_object())
      throw InputError((p / "summary.json").string() + ": not a JSON object (damaged?)");
  }
  if (fs::exists(p / "config.yaml")) {
    try {
      std::ifstream in(p / "config.yaml");
      std::stringstream ss;
      ss << in.rdbuf();
      auto tree = config::ConfigTree::from_string(ss.str(), (p / "config.yaml").string());
      r.attention_kind = config_scalar(tree.root(), "attention", "kind");
      r.attention_backend = config_scalar(tree.root(), "attention", "backend");
      r.arch = config_scalar(tree.root(), "model", "arch");
      const std::string T = config_scalar(tree.root(), "data", "seq_len");
      r.seq_len = T == "?" ? 0 : std::atoll(T.c_str());
      r.seed = config_scalar(tree.root(), "train", "seed");
      flatten_config(tree.root(), "", &r.config);
      r.has_config = true;
    } catch (const std::exception&) {
    }
  }
  std::vector<long long> log_steps;
  std::vector<double> log_loss, log_gnorm;
  if (has_metrics) {
    std::ifstream in(p / "metrics.jsonl");
    std::string line;
    auto num = [](const nlohmann::json& j, const char* k) {
      return j.contains(k) && j[k].is_number() ? j[k].get<double>() : NAN;
    };
    while (std::getline(in, line)) {
      auto rec = nlohmann::json::parse(line, nullptr, false);
      if (rec.is_discarded() || !rec.is_object()) continue;
      const std::string type = rec.value("type", "");
      if (type == "train") {
        log_steps.push_back(rec.value("step", 0LL));
        log_loss.push_back(num(rec, "loss"));
        log_gnorm.push_back(num(rec, "grad_norm"));
        r.tokens_per_s.push_back(num(rec, "tokens_per_s"));
        for (const auto& [key, label] : kLastAttentionRows)
          if (const double v = num(rec, key); std::isfinite(v)) r.last_attention[key] = v;
      } else if (type == "eval") {
        r.val_steps.push_back(rec.value("step", 0LL));
        r.val_loss.push_back(num(rec, "val_loss"));
        for (const auto& [key, value] : rec.items())  // the task's metrics (top1, wer, ...), aligned with val_steps
          if (value.is_number() && key != "step" && key != "val_loss") {
            auto& series = r.eval_values[key];
            series.resize(r.val_steps.size() - 1, NAN);
            series.push_back(value.get<double>());
          }
      }
    }
  }
  const std::string h5 = (p / "metrics.h5").string();
  H5Series st, lo, gn;
  bool have_h5 = false;
  try {
    have_h5 = fs::exists(h5) && h5_read_series(h5, "steps/step", &st) && h5_read_series(h5, "steps/loss", &lo) &&
              h5_read_series(h5, "steps/grad_norm", &gn) && st.rows() == lo.rows() && st.rows() == gn.rows();
  } catch (const std::exception&) {
    have_h5 = false;
  }
  if (have_h5) {
    for (double s : st.values) r.steps.push_back(static_cast<long long>(s));
    r.loss = lo.values;
    r.grad_norm = gn.values;
    r.layers = read_group(h5, "grads", {"layers"});
    r.attention = read_group(h5, "attention", {"max_abs_logit", "row_mass_mean", "row_mass_max", "pv_norm", "block_rms"});
    r.update = read_group(h5, "update", {"layers"});
  } else {
    r.steps = log_steps;
    r.loss = log_loss;
    r.grad_norm = log_gnorm;
  }
  return r;
}

// What the table shows for a number that was never measured (a run that failed early, no evaluation, no steps):
// never a placeholder such as 0, inf or nan that reads like a measurement.
const std::string kMissing = "\u2013";  // "–"

std::string num(double v, const char* f = "%.4f") {
  if (!std::isfinite(v)) return kMissing;
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

double json_num(const nlohmann::json& j, const char* key) {
  return j.contains(key) && j[key].is_number() ? j[key].get<double>() : NAN;
}

// Characters on screen of UTF-8 text (kMissing is one character in three bytes): the columns stay aligned.
size_t display_width(const std::string& text) {
  return static_cast<size_t>(std::count_if(text.begin(), text.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

// summary.json's `reason` of a failed or diverged run; empty for the others.
std::string failure_reason(const nlohmann::json& summary) {
  const std::string status = summary.value("status", std::string());
  if (status != "failed" && status != "diverged") return "";
  const auto it = summary.find("reason");
  const std::string reason = it != summary.end() && it->is_string() ? it->get<std::string>() : "";
  return reason.empty() ? "no reason recorded" : reason;
}

// A Markdown list item holds one line: line breaks of a multi-line reason become "; ".
std::string one_line(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '\n')
      out += "; ";
    else
      out += c;
  }
  return out;
}

nlohmann::json nan_to_null(const std::vector<double>& v) {
  nlohmann::json a = nlohmann::json::array();
  for (double x : v) a.push_back(std::isfinite(x) ? nlohmann::json(x) : nlohmann::json());
  return a;
}

std::string find_plot_script(const ReportOptions& o) {
  if (!o.plot_script.empty()) return o.plot_script;
  if (const char* e = std::getenv("SIGTRAIN_PLOT_SCRIPT"); e && *e) return e;
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    for (fs::path d = exe.parent_path(); !d.empty() && d != d.root_path(); d = d.parent_path())
      if (fs::exists(d / "scripts" / "plot_report.py")) return (d / "scripts" / "plot_report.py").string();
  }
#ifdef SIGTRAIN_SOURCE_DIR
  if (fs::exists(fs::path(SIGTRAIN_SOURCE_DIR) / "scripts" / "plot_report.py"))
    return (fs::path(SIGTRAIN_SOURCE_DIR) / "scripts" / "plot_report.py").string();
#endif
  return "";
}

std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

}  // namespace

double early_median_grad_norm(const std::vector<long long>& steps, const std::vector<double>& grad_norms) {
  if (steps.empty()) return NAN;
  const long long last = *std::max_element(steps.begin(), steps.end());
  const long long until = std::max<long long>(10, last / 10);
  std::vector<double> v;
  for (size_t i = 0; i < steps.size() && i < grad_norms.size(); ++i)
    if (steps[i] <= until && std::isfinite(grad_norms[i])) v.push_back(grad_norms[i]);
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

bool report_ignores_config_key(const std::string& key) {
  for (const char* prefix : {"logging.", "checkpoint."})
    if (key.rfind(prefix, 0) == 0) return true;
  return key == "train.seed" || key == "run.name" || key == "train.threads";
}

ReportArm parse_arm_spec(const std::string& spec) {
  const std::string expected = "expected NAME=RUN[,RUN...], e.g. --arm softmax=runs/softmax-s1,runs/softmax-s2";
  const size_t eq = spec.find('=');
  if (eq == std::string::npos) throw InputError("--arm '" + spec + "': no '=' in it; " + expected);
  ReportArm arm;
  arm.name = spec.substr(0, eq);
  if (arm.name.empty()) throw InputError("--arm '" + spec + "': no arm name before '='; " + expected);
  const std::string list = spec.substr(eq + 1);
  if (list.empty()) throw InputError("--arm '" + spec + "': no run folders after '='; " + expected);
  size_t begin = 0;
  while (true) {
    const size_t comma = list.find(',', begin);
    const std::string dir = list.substr(begin, comma == std::string::npos ? std::string::npos : comma - begin);
    if (dir.empty())
      throw InputError("--arm '" + spec + "': an empty run folder in the list (two commas, or one at an end); " +
                       expected);
    arm.run_dirs.push_back(dir);
    if (comma == std::string::npos) break;
    begin = comma + 1;
  }
  return arm;
}

namespace {

// Mean, sample standard deviation (n - 1; NaN below 2 values), min and max of the finite values.
struct Stats {
  size_t n = 0;
  double mean = NAN, std = NAN, min = NAN, max = NAN;
};

Stats stats_of(const std::vector<double>& values) {
  Stats s;
  double sum = 0;
  for (double v : values)
    if (std::isfinite(v)) {
      sum += v;
      s.min = s.n == 0 ? v : std::min(s.min, v);
      s.max = s.n == 0 ? v : std::max(s.max, v);
      ++s.n;
    }
  if (s.n == 0) return s;
  s.mean = sum / static_cast<double>(s.n);
  if (s.n >= 2) {
    double ss = 0;
    for (double v : values)
      if (std::isfinite(v)) ss += (v - s.mean) * (v - s.mean);
    s.std = std::sqrt(ss / static_cast<double>(s.n - 1));
  }
  return s;
}

nlohmann::json finite_or_null(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); }

nlohmann::json stats_json(const Stats& s) {
  return {{"n", s.n}, {"mean", finite_or_null(s.mean)}, {"std", finite_or_null(s.std)},
          {"min", finite_or_null(s.min)}, {"max", finite_or_null(s.max)}};
}

// The difference of two arms' means (b - a) and its standard error sqrt(s_a^2 / n_a + s_b^2 / n_b) (Welch's; NaN
// unless both arms have at least 2 values).
struct Gap {
  double gap = NAN, se = NAN;
};
Gap gap_of(const Stats& a, const Stats& b) {
  Gap g;
  if (a.n == 0 || b.n == 0) return g;
  g.gap = b.mean - a.mean;
  if (a.n >= 2 && b.n >= 2)
    g.se = std::sqrt(a.std * a.std / static_cast<double>(a.n) + b.std * b.std / static_cast<double>(b.n));
  return g;
}

// One curve per run (steps, values) -> at every step any run has: n, mean, std, min, max over the runs with a
// finite value there.
nlohmann::json aggregate_curves(const std::vector<std::pair<const std::vector<long long>*, std::vector<double>>>& runs) {
  std::map<long long, std::vector<double>> at;
  for (const auto& [steps, values] : runs)
    for (size_t i = 0; i < steps->size() && i < values.size(); ++i) at[(*steps)[i]].push_back(values[i]);
  nlohmann::json out = {{"step", nlohmann::json::array()}, {"n", nlohmann::json::array()},
                        {"mean", nlohmann::json::array()}, {"std", nlohmann::json::array()},
                        {"min", nlohmann::json::array()}, {"max", nlohmann::json::array()}};
  for (const auto& [step, values] : at) {
    const Stats s = stats_of(values);
    out["step"].push_back(step);
    out["n"].push_back(s.n);
    out["mean"].push_back(finite_or_null(s.mean));
    out["std"].push_back(finite_or_null(s.std));
    out["min"].push_back(finite_or_null(s.min));
    out["max"].push_back(finite_or_null(s.max));
  }
  return out;
}

// A row of the table: its label, its key in report.json, how its number is printed (empty: a text row).
struct Row {
  std::string label, key, format, suffix;
};

struct LoadedArm {
  std::string name;
  std::vector<size_t> runs;  // indices into the runs of the report
};

}  // namespace

ReportResult make_report(const ReportOptions& o) {
  // --- the arms: --arm ones first, then each positional run folder as an arm of its own -----------------------
  std::vector<ReportArm> arms = o.arms;
  for (size_t i = 0; i < arms.size(); ++i) {
    if (arms[i].name.empty()) throw InputError("--arm: an arm without a name; expected NAME=RUN[,RUN...]");
    if (arms[i].run_dirs.empty())
      throw InputError("--arm " + arms[i].name + ": no run folders; expected NAME=RUN[,RUN...]");
    for (size_t j = 0; j < i; ++j)
      if (arms[j].name == arms[i].name)
        throw InputError("--arm: the arm name '" + arms[i].name +
                         "' is given twice; give each --arm its own name (list all of an arm's runs in one "
                         "--arm NAME=RUN,RUN,...)");
    for (const auto& d : arms[i].run_dirs)
      if (!fs::is_directory(d))
        throw InputError("--arm " + arms[i].name + ": run folder '" + d + "' does not exist" +
                         (fs::exists(d) ? " as a folder" : "") + "; expected NAME=RUN[,RUN...] of run folders");
  }
  for (const auto& d : o.run_dirs) {
    if (!fs::is_directory(d)) throw InputError("report: run folder '" + d + "' does not exist");
    ReportArm a;
    a.name = fs::path(d).filename().string();
    if (a.name.empty()) a.name = fs::path(d).parent_path().filename().string();
    a.run_dirs = {d};
    arms.push_back(std::move(a));
  }
  if (arms.empty()) throw InputError("report: no run folders given (RUN_DIR ... or --arm NAME=RUN[,RUN...])");
  {  // a run counted twice would weigh double in its arm's statistics
    std::map<std::string, std::string> seen;  // canonical path -> arm
    for (const auto& a : arms)
      for (const auto& d : a.run_dirs) {
        const std::string key = fs::weakly_canonical(fs::absolute(d)).string();
        const auto [it, fresh] = seen.emplace(key, a.name);
        if (!fresh)
          throw InputError("report: run folder '" + d + "' is listed twice (arm '" + it->second + "' and arm '" +
                           a.name + "'); each run belongs to one arm once");
      }
  }
  std::vector<RunData> runs;
  std::vector<LoadedArm> loaded;
  for (const auto& a : arms) {
    LoadedArm la{a.name, {}};
    for (const auto& d : a.run_dirs) {
      la.runs.push_back(runs.size());
      runs.push_back(load_run(d));
    }
    loaded.push_back(std::move(la));
  }
  const bool multi = std::any_of(loaded.begin(), loaded.end(), [](const LoadedArm& a) { return a.runs.size() > 1; });
  ReportResult res;
  res.out_dir = o.out_dir.empty() ? arms.front().run_dirs.front() : o.out_dir;
  fs::create_directories(res.out_dir);

  // --- runs of one arm must differ only in the seed (and bookkeeping): a warning names each other difference ---
  for (const auto& a : loaded) {
    if (a.runs.size() < 2) continue;
    const RunData& first = runs[a.runs.front()];
    for (size_t k = 0; k < a.runs.size(); ++k) {
      const RunData& r = runs[a.runs[k]];
      if (!r.has_config) {
        res.warnings.push_back("arm " + a.name + ": " + r.dir + " has no readable config.yaml; its config was not "
                               "compared with the other runs of the arm");
        continue;
      }
      if (k == 0 || !first.has_config) continue;
      // A key only one config has is most often one a later sigtrain added (written with its default into the
      // newer run's config.yaml), not a difference of setting: those are listed apart, with the value it has.
      std::vector<std::string> diffs, only_one;
      std::map<std::string, std::string> keys = first.config;
      keys.insert(r.config.begin(), r.config.end());
      for (const auto& [key, unused] : keys) {
        if (report_ignores_config_key(key)) continue;
        const auto x = first.config.find(key), y = r.config.find(key);
        if (x == first.config.end()) only_one.push_back(key + " = " + y->second + " (" + r.name + ")");
        else if (y == r.config.end()) only_one.push_back(key + " = " + x->second + " (" + first.name + ")");
        else if (x->second != y->second) diffs.push_back(key + " (" + x->second + " vs " + y->second + ")");
      }
      auto listed = [](const std::vector<std::string>& items) {
        std::string text;
        for (size_t i = 0; i < items.size() && i < 6; ++i) text += (i ? ", " : "") + items[i];
        if (items.size() > 6) text += ", and " + std::to_string(items.size() - 6) + " more";
        return text;
      };
      if (!diffs.empty())
        res.warnings.push_back("arm " + a.name + ": " + r.name + " and " + first.name +
                               " differ in more than the seed: " + listed(diffs));
      if (!only_one.empty())
        res.warnings.push_back("arm " + a.name + ": keys that only " + r.name + " or " + first.name +
                               " has, most likely added to sigtrain between the runs (the older run had no such "
                               "setting): " + listed(only_one));
    }
  }

  // --- the rows ----------------------------------------------------------------------------------------------------
  std::vector<Row> rows = {{"run", "", "", ""},
                           {"attention", "", "", ""},
                           {"status", "", "", ""},
                           {"steps", "steps", "%.0f", ""},
                           {"final train loss", "final_train_loss", "%.4f", ""},
                           {"best train loss", "best_train_loss", "%.4f", ""},
                           {"final val loss", "final_val_loss", "%.4f", ""},
                           {"best val loss", "best_val_loss", "%.4f", ""},
                           {"max grad norm (step)", "max_grad_norm", "%.4g", ""},
                           {"early median grad norm", "early_median_grad_norm", "%.4g", ""},
                           {"max / early median", "max_over_early_median", "%.3g", "x"},
                           {"non-finite steps", "nonfinite_steps", "%.0f", ""},
                           {"diverged at step", "diverged_step", "%.0f", ""},
                           {"tokens/s", "tokens_per_s", "%.0f", ""}};
  // The tasks' own metrics (summary.json report_metrics: top-1, WER, ...): a final and a best row each.
  struct Metric {
    std::string key, label;
    bool higher_is_better = true;
  };
  std::vector<Metric> metrics;
  for (const auto& r : runs)
    if (r.summary.contains("report_metrics") && r.summary["report_metrics"].is_array())
      for (const auto& m : r.summary["report_metrics"]) {
        const std::string key = m.value("key", std::string());
        if (key.empty() || std::any_of(metrics.begin(), metrics.end(), [&](const Metric& x) { return x.key == key; }))
          continue;
        metrics.push_back({key, m.value("label", key), m.value("higher_is_better", true)});
        rows.push_back({"final " + metrics.back().label, "final_" + key, "%.4f", ""});
        rows.push_back({"best " + metrics.back().label, "best_" + key, "%.4f", ""});
      }
  const bool with_attention =
      std::any_of(runs.begin(), runs.end(), [](const RunData& r) { return !r.last_attention.empty(); });
  if (with_attention)
    for (const auto& [key, label] : kLastAttentionRows)
      rows.push_back({label, "last_" + std::string(key).substr(5), "%.4g", ""});

  // Per run: the text of each cell (a single run's column) and the number behind it (NaN for text rows).
  std::vector<std::vector<std::string>> run_text;
  std::vector<std::vector<double>> run_value;
  std::vector<std::string> run_status, run_attention;
  nlohmann::json jruns = nlohmann::json::array();
  for (size_t a = 0; a < loaded.size(); ++a)
    for (size_t ri : loaded[a].runs) {
      const RunData& r = runs[ri];
      const auto& s = r.summary;
      double best_train = INFINITY, max_g = -INFINITY;
      long long max_g_step = 0;
      int64_t nonfinite = 0;
      for (size_t i = 0; i < r.loss.size(); ++i) {
        if (std::isfinite(r.loss[i])) best_train = std::min(best_train, r.loss[i]);
        if (i < r.grad_norm.size() && std::isfinite(r.grad_norm[i]) && r.grad_norm[i] > max_g) {
          max_g = r.grad_norm[i];
          max_g_step = r.steps[i];
        }
        if (!std::isfinite(r.loss[i]) || (i < r.grad_norm.size() && !std::isfinite(r.grad_norm[i]))) ++nonfinite;
      }
      const double early = early_median_grad_norm(r.steps, r.grad_norm);
      double tps = json_num(s, "tokens_per_s");
      if (!std::isfinite(tps) || tps <= 0) {
        double sum = 0;
        int n = 0;
        for (double t : r.tokens_per_s)
          if (std::isfinite(t) && t > 0) sum += t, ++n;
        tps = n ? sum / n : NAN;
      }
      const std::string status = s.value("status", std::string(r.steps.empty() ? "?" : "incomplete"));
      const double last_step = s.contains("last_step") ? json_num(s, "last_step")
                                                       : (r.steps.empty() ? NAN : static_cast<double>(r.steps.back()));
      const std::string max_g_text =
          std::isfinite(max_g) ? num(max_g, "%.4g") + " (" + std::to_string(max_g_step) + ")" : kMissing;
      const double ratio = max_g / early;
      const std::string ratio_text = std::isfinite(ratio) ? num(ratio, "%.3g") + "x" : kMissing;
      const double final_train = r.loss.empty() ? NAN : r.loss.back();
      const std::string attention = r.attention_kind + " (" + r.attention_backend + ")";
      std::vector<std::string> text = {r.name, attention, status, num(last_step, "%.0f"), num(final_train),
                                       num(best_train), num(json_num(s, "final_val_loss")),
                                       num(json_num(s, "best_val_loss")), max_g_text, num(early, "%.4g"), ratio_text,
                                       std::to_string(nonfinite), num(json_num(s, "diverged_step"), "%.0f"),
                                       num(tps, "%.0f")};
      std::vector<double> value = {NAN, NAN, NAN, last_step, final_train,
                                   std::isfinite(best_train) ? best_train : NAN, json_num(s, "final_val_loss"),
                                   json_num(s, "best_val_loss"), std::isfinite(max_g) ? max_g : NAN, early,
                                   std::isfinite(ratio) ? ratio : NAN, static_cast<double>(nonfinite),
                                   json_num(s, "diverged_step"), tps};
      nlohmann::json eval_metrics = nlohmann::json::object();
      for (const Metric& m : metrics) {
        const auto it = r.eval_values.find(m.key);
        std::vector<double> series = it == r.eval_values.end() ? std::vector<double>{} : it->second;
        series.resize(r.val_steps.size(), NAN);
        double best = NAN;
        for (double v : series)
          if (std::isfinite(v) && (!std::isfinite(best) || (m.higher_is_better ? v > best : v < best))) best = v;
        const double final_value = series.empty() ? NAN : series.back();
        text.push_back(num(final_value));
        text.push_back(num(best));
        value.push_back(final_value);
        value.push_back(best);
        eval_metrics[m.key] = {{"label", m.label}, {"values", nan_to_null(series)}};
      }
      if (with_attention)
        for (const auto& [key, label] : kLastAttentionRows) {
          const auto it = r.last_attention.find(key);
          const double v = it == r.last_attention.end() ? NAN : it->second;
          text.push_back(num(v, "%.4g"));
          value.push_back(v);
        }
      run_text.push_back(std::move(text));
      run_value.push_back(std::move(value));
      run_status.push_back(status);
      run_attention.push_back(attention);
      jruns.push_back({{"name", r.name},
                       {"dir", r.dir},
                       {"arm", loaded[a].name},
                       {"seed", r.seed},
                       {"attention", r.attention_kind},
                       {"backend", r.attention_backend},
                       {"arch", r.arch},
                       {"seq_len", r.seq_len},
                       {"status", status},
                       {"diverged_step", s.contains("diverged_step") ? s["diverged_step"] : nlohmann::json()},
                       {"reason", s.value("reason", std::string())},
                       {"steps", r.steps},
                       {"loss", nan_to_null(r.loss)},
                       {"grad_norm", nan_to_null(r.grad_norm)},
                       {"val_steps", r.val_steps},
                       {"val_loss", nan_to_null(r.val_loss)},
                       {"eval_metrics", eval_metrics},
                       {"early_median_grad_norm", std::isfinite(early) ? nlohmann::json(early) : nlohmann::json()},
                       {"grad_layers", r.layers},
                       {"attention_stats", r.attention},
                       {"update_layers", r.update}});
    }

  // --- per arm: a column (a single run's own text, else mean ± std over the runs), statistics, mean curves ------
  auto stat_text = [](const Row& row, const Stats& st, size_t n_runs) {
    if (st.n == 0) return kMissing;
    std::string t = num(st.mean, row.format.c_str()) + row.suffix;
    if (st.n >= 2) t += " \u00b1 " + num(st.std, row.format.c_str()) + row.suffix;
    if (st.n < n_runs) t += " (n=" + std::to_string(st.n) + ")";
    return t;
  };
  auto range_text = [](const Row& row, const Stats& st) {
    if (st.n == 0) return kMissing;
    return num(st.min, row.format.c_str()) + row.suffix + " \u2013 " + num(st.max, row.format.c_str()) + row.suffix;
  };
  std::vector<std::string> labels;
  for (const auto& row : rows) labels.push_back(row.label);
  if (multi) {  // a mean has no step of its own
    labels[8] = "max grad norm";
    labels.insert(labels.begin() + 1, "runs (seeds)");
  }
  std::vector<std::vector<std::string>> cols, range_cols;  // [arm][label]
  std::vector<std::vector<Stats>> arm_row_stats;            // [arm][row]: the statistics behind the numeric rows
  nlohmann::json jarms = nlohmann::json::array();
  size_t run_index = 0;
  for (const auto& a : loaded) {
    const size_t first = run_index, n_runs = a.runs.size();
    run_index += n_runs;
    std::vector<std::string> col, range_col;
    std::vector<Stats> row_stats(rows.size());
    nlohmann::json jstats = nlohmann::json::object();
    std::string seeds;
    nlohmann::json jseeds = nlohmann::json::array(), jnames = nlohmann::json::array(),
                   jdirs = nlohmann::json::array();
    for (size_t k = 0; k < n_runs; ++k) {
      const RunData& r = runs[a.runs[k]];
      seeds += (k ? ", " : "") + r.seed;
      jseeds.push_back(r.seed);
      jnames.push_back(r.name);
      jdirs.push_back(r.dir);
    }
    for (size_t row = 0; row < rows.size(); ++row) {
      std::vector<double> values;
      for (size_t k = 0; k < n_runs; ++k) values.push_back(run_value[first + k][row]);
      std::string cell;
      if (row == 0) {
        cell = a.name;
      } else if (n_runs == 1) {
        cell = run_text[first][row];
      } else if (row == 1 || row == 2) {  // attention, status: the distinct values (status with counts)
        std::vector<std::pair<std::string, int>> distinct;
        for (size_t k = 0; k < n_runs; ++k) {
          const std::string& v = row == 1 ? run_attention[first + k] : run_status[first + k];
          auto it = std::find_if(distinct.begin(), distinct.end(), [&](const auto& d) { return d.first == v; });
          if (it == distinct.end())
            distinct.push_back({v, 1});
          else
            ++it->second;
        }
        for (size_t i = 0; i < distinct.size(); ++i)
          cell += (i ? (row == 1 ? " / " : ", ") : "") +
                  (row == 2 ? std::to_string(distinct[i].second) + " " : std::string()) + distinct[i].first;
      } else {
        cell = stat_text(rows[row], stats_of(values), n_runs);
      }
      col.push_back(cell);
      if (!rows[row].format.empty()) {
        const Stats st = stats_of(values);
        row_stats[row] = st;
        range_col.push_back(range_text(rows[row], st));
        nlohmann::json j = stats_json(st);
        j["label"] = rows[row].label;
        j["values"] = nan_to_null(values);
        jstats[rows[row].key] = j;
      } else {
        range_col.push_back(cell);
      }
    }
    if (multi) {
      const std::string runs_cell =
          std::to_string(n_runs) + " (seed" + (n_runs > 1 ? "s " : " ") + seeds + ")";
      col.insert(col.begin() + 1, runs_cell);
      range_col.insert(range_col.begin() + 1, runs_cell);
    }
    cols.push_back(std::move(col));
    range_cols.push_back(std::move(range_col));
    arm_row_stats.push_back(std::move(row_stats));

    // Mean curves (every step any run of the arm has; the spread is the min-max band, also std).
    std::vector<std::pair<const std::vector<long long>*, std::vector<double>>> loss, gnorm, val;
    for (size_t ri : a.runs) {
      loss.push_back({&runs[ri].steps, runs[ri].loss});
      gnorm.push_back({&runs[ri].steps, runs[ri].grad_norm});
      val.push_back({&runs[ri].val_steps, runs[ri].val_loss});
    }
    nlohmann::json curves = {{"loss", aggregate_curves(loss)},
                             {"grad_norm", aggregate_curves(gnorm)},
                             {"val_loss", aggregate_curves(val)}};
    nlohmann::json eval_curves = nlohmann::json::object();
    for (const Metric& m : metrics) {
      std::vector<std::pair<const std::vector<long long>*, std::vector<double>>> series;
      for (size_t ri : a.runs) {
        const auto it = runs[ri].eval_values.find(m.key);
        std::vector<double> v = it == runs[ri].eval_values.end() ? std::vector<double>{} : it->second;
        v.resize(runs[ri].val_steps.size(), NAN);
        series.push_back({&runs[ri].val_steps, v});
      }
      eval_curves[m.key] = aggregate_curves(series);
      eval_curves[m.key]["label"] = m.label;
    }
    curves["eval_metrics"] = eval_curves;
    std::vector<double> early;
    for (size_t ri : a.runs) early.push_back(early_median_grad_norm(runs[ri].steps, runs[ri].grad_norm));
    jarms.push_back({{"name", a.name},
                     {"n_runs", n_runs},
                     {"runs", jnames},
                     {"dirs", jdirs},
                     {"seeds", jseeds},
                     {"stats", jstats},
                     {"early_median_grad_norm", finite_or_null(stats_of(early).mean)},
                     {"curves", curves}});
  }

  // --- with several runs per arm: each arm's gap to the first (mean difference and its standard error) ------------
  // [arm - 1][label] cells for the arms after the first; report.json: arms[k].gap_to_first[key] = {gap, se}.
  std::vector<std::vector<std::string>> gap_cols;
  std::vector<std::string> gap_labels = {""};
  const bool with_gaps = multi && loaded.size() >= 2;
  if (with_gaps) {
    for (size_t row = 0; row < rows.size(); ++row)
      if (!rows[row].format.empty() && rows[row].key != "steps")
        gap_labels.push_back(labels[row + 1]);  // labels has the "runs (seeds)" row after the first
    for (size_t a = 1; a < loaded.size(); ++a) {
      std::vector<std::string> col = {loaded[a].name};
      nlohmann::json jgaps = nlohmann::json::object();
      for (size_t row = 0; row < rows.size(); ++row) {
        if (rows[row].format.empty() || rows[row].key == "steps") continue;
        const Gap g = gap_of(arm_row_stats[0][row], arm_row_stats[a][row]);
        const char* f = rows[row].format.c_str();
        std::string cell = kMissing;
        if (std::isfinite(g.gap)) {
          cell = (g.gap >= 0 ? "+" : "") + num(g.gap, f) + rows[row].suffix;
          if (std::isfinite(g.se)) cell += " \u00b1 " + num(g.se, f) + rows[row].suffix;
        }
        col.push_back(cell);
        jgaps[rows[row].key] = {
            {"label", rows[row].label}, {"gap", finite_or_null(g.gap)}, {"se", finite_or_null(g.se)}};
      }
      gap_cols.push_back(std::move(col));
      jarms[a]["gap_to_first"] = jgaps;
    }
  }

  // --- the text table and report.md --------------------------------------------------------------------------------
  std::vector<size_t> width(cols.size() + 1, 0);
  for (const auto& l : labels) width[0] = std::max(width[0], l.size());
  for (size_t c = 0; c < cols.size(); ++c)
    for (const auto& v : cols[c]) width[c + 1] = std::max(width[c + 1], display_width(v));
  std::ostringstream table, md;
  // Row 0 of each column is its header; row_labels[0] is unused.
  auto md_table = [&](const std::vector<std::string>& row_labels,
                      const std::vector<std::vector<std::string>>& columns) {
    md << "|";
    for (size_t c = 0; c <= columns.size(); ++c) md << " " << (c == 0 ? std::string("") : columns[c - 1][0]) << " |";
    md << "\n|";
    for (size_t c = 0; c <= columns.size(); ++c) md << (c == 0 ? "---|" : "---:|");
    md << "\n";
    for (size_t row = 1; row < row_labels.size(); ++row) {
      md << "| " << row_labels[row] << " |";
      for (size_t c = 0; c < columns.size(); ++c) md << " " << columns[c][row] << " |";
      md << "\n";
    }
  };
  for (size_t row = 0; row < labels.size(); ++row) {
    table << labels[row] << std::string(width[0] - labels[row].size() + 2, ' ');
    for (size_t c = 0; c < cols.size(); ++c)
      table << std::string(width[c + 1] - display_width(cols[c][row]), ' ') << cols[c][row]
            << (c + 1 < cols.size() ? "  " : "");
    table << "\n";
  }
  md_table(labels, cols);
  if (multi) {
    table << "mean \u00b1 sample standard deviation over each arm's runs (n = runs with that number when fewer)\n";
    for (const auto& a : loaded) {
      if (a.runs.size() < 2) continue;
      table << a.name << ":";
      for (size_t ri : a.runs) table << " " << runs[ri].dir;
      table << "\n";
    }
    md << "\nmean \u00b1 sample standard deviation (n \u2212 1) over each arm's runs; (n=k): only k runs have that "
          "number.\n\nRange over the runs (min \u2013 max):\n\n";
    md_table(labels, range_cols);
    if (with_gaps) {
      table << "gap to " << loaded[0].name << " (mean difference \u00b1 its standard error):\n";
      for (size_t row = 1; row < gap_labels.size(); ++row) {
        table << "  " << gap_labels[row] << ":";
        for (size_t c = 0; c < gap_cols.size(); ++c)
          table << (c ? "; " : " ") << gap_cols[c][0] << " " << gap_cols[c][row];
        table << "\n";
      }
      md << "\nGap to **" << loaded[0].name << "** (the arm's mean minus " << loaded[0].name
         << "'s; \u00b1 the standard error of that difference, \u221a(s\u2081\u00b2/n\u2081 + s\u2082\u00b2/n\u2082), "
            "where both arms have at least two runs; with two runs per arm it rests on two values each, a rough "
            "guide rather than a test):\n\n";
      md_table(gap_labels, gap_cols);
    }
    md << "\nRuns:\n\n";
    for (const auto& a : loaded) {
      md << "- **" << a.name << "**:";
      for (size_t k = 0; k < a.runs.size(); ++k)
        md << (k ? "," : "") << " `" << runs[a.runs[k]].dir << "` (seed " << runs[a.runs[k]].seed << ")";
      md << "\n";
    }
  }
  // Why a failed or diverged run stopped, under the table (a reason can be long and span lines).
  bool any_reason = false;
  for (const auto& r : runs) {
    const std::string reason = failure_reason(r.summary);
    if (reason.empty()) continue;
    table << r.name << " (" << r.summary.value("status", std::string("?")) << "): " << reason << "\n";
    md << (any_reason ? "" : "\n") << "- **" << r.name << "** (" << r.summary.value("status", std::string("?"))
       << "): " << one_line(reason) << "\n";
    any_reason = true;
  }
  if (!res.warnings.empty()) {
    md << "\nWarnings:\n\n";
    for (const auto& w : res.warnings) md << "- " << one_line(w) << "\n";
  }
  md << "\nEarly median: the median global gradient norm over the first 10 % of a run's steps (at least its first "
        "10 steps).\n";
  res.table = table.str();

  const std::string md_path = (fs::path(res.out_dir) / "report.md").string();
  const std::string json_path = (fs::path(res.out_dir) / "report.json").string();
  write_file_atomic(md_path, md.str());
  write_file_atomic(json_path,
                    nlohmann::json({{"runs", jruns}, {"arms", jarms}, {"warnings", res.warnings}}).dump() + "\n");
  res.files = {md_path, json_path};

  // --- plots -----------------------------------------------------------------------------------------------------
  if (o.plots) {
    const std::string script = find_plot_script(o);
    if (script.empty()) {
      res.plot_error = "plots skipped: scripts/plot_report.py not found (set SIGTRAIN_PLOT_SCRIPT)";
    } else {
      // The first Python with matplotlib: $SIGTRAIN_PYTHON or `python3` on PATH, then Debian's /usr/bin/python3
      // (a pyenv/venv python3 earlier on PATH often lacks matplotlib).
      std::vector<std::string> pythons;
      if (const char* e = std::getenv("SIGTRAIN_PYTHON"); e && *e) pythons.push_back(e);
      pythons.push_back(o.python);
      if (o.python != "/usr/bin/python3" && fs::exists("/usr/bin/python3")) pythons.push_back("/usr/bin/python3");
      std::string output, python;
      int code = -1;
      for (const auto& py : pythons) {
        python = py;
        output.clear();
        const std::string cmd = py + " " + shell_quote(script) + " " + shell_quote(json_path) + " " +
                                shell_quote(res.out_dir) + " 2>&1";
        FILE* pipe = ::popen(cmd.c_str(), "r");
        if (!pipe) continue;
        char buf[512];
        while (std::fgets(buf, sizeof buf, pipe)) output += buf;
        const int rc = ::pclose(pipe);
        code = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
        if (code != 3 && code != 127) break;  // 3: no matplotlib, 127: no such python -> try the next
      }
      {
        if (code != 0) {
          res.plot_error = code == 3 || code == 127 || code == -1
                               ? "plots skipped: " + (output.empty() ? "no python3 found" : output)
                               : "plots failed (" + python + " " + script + ", exit " + std::to_string(code) +
                                     "): " + output;
        } else {
          std::istringstream lines(output);
          std::string line;
          while (std::getline(lines, line))
            if (line.rfind("wrote ", 0) == 0) res.files.push_back(line.substr(6));
        }
      }
    }
  }
  return res;
}

}  // namespace sigtrain::trainer
