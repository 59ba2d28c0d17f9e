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
  nlohmann::json layers = nlohmann::json::object();     // grads/: step, values [n][L]
  nlohmann::json attention = nlohmann::json::object();  // attention/: step, <stat> [n][L]
  nlohmann::json update = nlohmann::json::object();     // update/: step, layers [n][L]
};

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

ReportResult make_report(const ReportOptions& o) {
  if (o.run_dirs.empty()) throw InputError("report: no run folders given");
  std::vector<RunData> runs;
  for (const auto& d : o.run_dirs) runs.push_back(load_run(d));
  ReportResult res;
  res.out_dir = o.out_dir.empty() ? o.run_dirs.front() : o.out_dir;
  fs::create_directories(res.out_dir);

  // --- the table -------------------------------------------------------------------------------------------------
  std::vector<std::string> labels = {"run",
                                     "attention",
                                     "status",
                                     "steps",
                                     "final train loss",
                                     "best train loss",
                                     "final val loss",
                                     "best val loss",
                                     "max grad norm (step)",
                                     "early median grad norm",
                                     "max / early median",
                                     "non-finite steps",
                                     "diverged at step",
                                     "tokens/s"};
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
        labels.push_back("final " + metrics.back().label);
        labels.push_back("best " + metrics.back().label);
      }
  std::vector<std::vector<std::string>> cols;
  nlohmann::json jruns = nlohmann::json::array();
  for (const auto& r : runs) {
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
    const std::string ratio_text = std::isfinite(max_g / early) ? num(max_g / early, "%.3g") + "x" : kMissing;
    cols.push_back({r.name, r.attention_kind + " (" + r.attention_backend + ")", status, num(last_step, "%.0f"),
                    num(r.loss.empty() ? NAN : r.loss.back()), num(best_train),
                    num(json_num(s, "final_val_loss")), num(json_num(s, "best_val_loss")), max_g_text,
                    num(early, "%.4g"), ratio_text, std::to_string(nonfinite), num(json_num(s, "diverged_step"), "%.0f"),
                    num(tps, "%.0f")});
    nlohmann::json eval_metrics = nlohmann::json::object();
    for (const Metric& m : metrics) {
      const auto it = r.eval_values.find(m.key);
      std::vector<double> series = it == r.eval_values.end() ? std::vector<double>{} : it->second;
      series.resize(r.val_steps.size(), NAN);
      double best = NAN;
      for (double v : series)
        if (std::isfinite(v) && (!std::isfinite(best) || (m.higher_is_better ? v > best : v < best))) best = v;
      cols.back().push_back(num(series.empty() ? NAN : series.back()));
      cols.back().push_back(num(best));
      eval_metrics[m.key] = {{"label", m.label}, {"values", nan_to_null(series)}};
    }
    jruns.push_back({{"name", r.name},
                     {"dir", r.dir},
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
  std::vector<size_t> width(cols.size() + 1, 0);
  for (const auto& l : labels) width[0] = std::max(width[0], l.size());
  for (size_t c = 0; c < cols.size(); ++c)
    for (const auto& v : cols[c]) width[c + 1] = std::max(width[c + 1], display_width(v));
  std::ostringstream table, md;
  md << "|";
  for (size_t c = 0; c <= cols.size(); ++c) md << " " << (c == 0 ? std::string("") : cols[c - 1][0]) << " |";
  md << "\n|";
  for (size_t c = 0; c <= cols.size(); ++c) md << (c == 0 ? "---|" : "---:|");
  md << "\n";
  for (size_t row = 0; row < labels.size(); ++row) {
    table << labels[row] << std::string(width[0] - labels[row].size() + 2, ' ');
    for (size_t c = 0; c < cols.size(); ++c)
      table << std::string(width[c + 1] - display_width(cols[c][row]), ' ') << cols[c][row] << (c + 1 < cols.size() ? "  " : "");
    table << "\n";
    if (row == 0) continue;
    md << "| " << labels[row] << " |";
    for (size_t c = 0; c < cols.size(); ++c) md << " " << cols[c][row] << " |";
    md << "\n";
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
  md << "\nEarly median: the median global gradient norm over the first 10 % of a run's steps (at least its first "
        "10 steps).\n";
  res.table = table.str();

  const std::string md_path = (fs::path(res.out_dir) / "report.md").string();
  const std::string json_path = (fs::path(res.out_dir) / "report.json").string();
  write_file_atomic(md_path, md.str());
  write_file_atomic(json_path, nlohmann::json({{"runs", jruns}}).dump() + "\n");
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
