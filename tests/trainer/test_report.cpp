// `sigtrain report` with several runs per arm (`--arm NAME=RUN,RUN`): mean, sample standard deviation, min and max
// of every table row and of the curves, checked against the runs' own records (summary.json, metrics.h5,
// metrics.jsonl); the warnings for runs of one arm that differ in more than the seed; the errors of malformed arms.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/exit_status.h"
#include "tests/error_of.h"
#include "tests/trainer/training_fixture.h"
#include "trainer/instruments/h5_series_writer.h"
#include "trainer/instruments/report.h"

namespace fs = std::filesystem;
using namespace sigtrain;
using sigtrain::testing::error_of;

namespace {

double mean_of(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}

double sample_std_of(const std::vector<double>& v) {
  const double m = mean_of(v);
  double ss = 0;
  for (double x : v) ss += (x - m) * (x - m);
  return std::sqrt(ss / static_cast<double>(v.size() - 1));
}

std::vector<double> h5_values(const fs::path& run, const std::string& dataset) {
  trainer::H5Series s;
  EXPECT_TRUE(trainer::h5_read_series((run / "metrics.h5").string(), dataset, &s)) << run << " " << dataset;
  return s.values;
}

// The line of `table` that starts with `label`.
std::string table_row(const std::string& table, const std::string& label) {
  const size_t at = table.find("\n" + label);
  if (at == std::string::npos) return "";
  return table.substr(at + 1, table.find('\n', at + 1) - at - 1);
}

// Expects report.json's statistics of `key` for an arm to be those of `values` (the runs' own numbers).
void expect_stats(const nlohmann::json& arm, const std::string& key, const std::vector<double>& values,
                  double tolerance) {
  SCOPED_TRACE("arm " + arm["name"].get<std::string>() + ", " + key);
  ASSERT_TRUE(arm["stats"].contains(key)) << arm["stats"].dump();
  const auto& st = arm["stats"][key];
  ASSERT_EQ(st["n"].get<size_t>(), values.size());
  EXPECT_NEAR(st["mean"].get<double>(), mean_of(values), tolerance);
  EXPECT_NEAR(st["std"].get<double>(), sample_std_of(values), tolerance);
  EXPECT_NEAR(st["min"].get<double>(), *std::min_element(values.begin(), values.end()), tolerance);
  EXPECT_NEAR(st["max"].get<double>(), *std::max_element(values.begin(), values.end()), tolerance);
}

}  // namespace

// Four tiny CPU runs (the 2-layer byte LM): softmax and sigmoid, seeds 1 and 2 each.
TEST(ReportArms, MeanAndStdOfTwoSeedsPerArmMatchTheRuns) {
  const auto dir = fixture::fresh_dir("report_arms");
  const std::vector<std::string> kinds = {"softmax", "sigmoid"}, seeds = {"1", "2"};
  std::vector<trainer::ReportArm> arms;
  for (const auto& kind : kinds) {
    trainer::ReportArm arm{kind, {}};
    for (const auto& seed : seeds) {
      const std::string name = kind + "-s" + seed;
      ASSERT_EQ(fixture::train_tiny(dir, name, {"attention.kind=" + kind, "train.seed=" + seed}), 0) << name;
      arm.run_dirs.push_back((dir / name).string());
    }
    arms.push_back(arm);
  }
  trainer::ReportOptions ro;
  ro.arms = arms;
  ro.out_dir = (dir / "report").string();
  const auto res = trainer::make_report(ro);
  EXPECT_TRUE(res.warnings.empty()) << res.warnings.front();
  const auto report = fixture::read_json(dir / "report" / "report.json");
  ASSERT_EQ(report["arms"].size(), 2u);
  ASSERT_EQ(report["runs"].size(), 4u);
  for (size_t a = 0; a < arms.size(); ++a) {
    const auto& arm = report["arms"][a];
    EXPECT_EQ(arm["name"], kinds[a]);
    EXPECT_EQ(arm["n_runs"], 2);
    EXPECT_EQ(arm["seeds"], nlohmann::json(seeds));
    std::vector<double> final_val, best_val, final_train, max_grad, tokens_per_s, steps;
    for (const auto& run : arms[a].run_dirs) {
      const auto s = fixture::read_json(fs::path(run) / "summary.json");
      final_val.push_back(s["final_val_loss"].get<double>());
      best_val.push_back(s["best_val_loss"].get<double>());
      tokens_per_s.push_back(s["tokens_per_s"].get<double>());
      steps.push_back(s["last_step"].get<double>());
      const auto loss = h5_values(run, "steps/loss"), gnorm = h5_values(run, "steps/grad_norm");
      ASSERT_EQ(loss.size(), 20u);
      final_train.push_back(loss.back());
      max_grad.push_back(*std::max_element(gnorm.begin(), gnorm.end()));
    }
    // Two seeds give two different numbers (else the std would be 0 whatever the code does).
    EXPECT_NE(final_val[0], final_val[1]);
    expect_stats(arm, "final_val_loss", final_val, 1e-12);
    expect_stats(arm, "best_val_loss", best_val, 1e-12);
    expect_stats(arm, "final_train_loss", final_train, 1e-12);
    expect_stats(arm, "max_grad_norm", max_grad, 1e-12);
    expect_stats(arm, "tokens_per_s", tokens_per_s, 1e-6);
    expect_stats(arm, "steps", steps, 0);
    EXPECT_EQ(arm["stats"]["steps"]["std"].get<double>(), 0.0);

    // The curves: at every step the mean, min and max over the two runs' training losses.
    const auto l0 = h5_values(arms[a].run_dirs[0], "steps/loss"), l1 = h5_values(arms[a].run_dirs[1], "steps/loss");
    const auto& curve = arm["curves"]["loss"];
    ASSERT_EQ(curve["step"].size(), 20u);
    for (size_t i : {size_t{0}, size_t{9}, size_t{19}}) {
      EXPECT_EQ(curve["step"][i], static_cast<int>(i) + 1);
      EXPECT_EQ(curve["n"][i], 2);
      EXPECT_NEAR(curve["mean"][i].get<double>(), (l0[i] + l1[i]) / 2, 1e-12);
      EXPECT_NEAR(curve["std"][i].get<double>(), std::abs(l0[i] - l1[i]) / std::sqrt(2.0), 1e-12);
      EXPECT_EQ(curve["min"][i].get<double>(), std::min(l0[i], l1[i]));
      EXPECT_EQ(curve["max"][i].get<double>(), std::max(l0[i], l1[i]));
    }
    // Evaluations at steps 0, 10, 20 (eval.every 10): the validation curve has one point each.
    EXPECT_EQ(arm["curves"]["val_loss"]["step"], nlohmann::json({0, 10, 20}));

    // The table shows the mean ± std with the row's own format.
    char expected[64];
    std::snprintf(expected, sizeof expected, "%.4f \u00b1 %.4f", mean_of(final_val), sample_std_of(final_val));
    EXPECT_NE(table_row(res.table, "final val loss").find(expected), std::string::npos)
        << expected << "\n" << res.table;
  }
  // The gap of the second arm to the first: the difference of the means and its standard error (Welch's), in the
  // JSON, the console table and report.md.
  {
    std::vector<std::vector<double>> best_val(2);
    for (size_t a = 0; a < arms.size(); ++a)
      for (const auto& run : arms[a].run_dirs)
        best_val[a].push_back(fixture::read_json(fs::path(run) / "summary.json")["best_val_loss"].get<double>());
    const double gap = mean_of(best_val[1]) - mean_of(best_val[0]);
    const double se = std::sqrt(sample_std_of(best_val[0]) * sample_std_of(best_val[0]) / 2 +
                                sample_std_of(best_val[1]) * sample_std_of(best_val[1]) / 2);
    ASSERT_GT(se, 0.0);
    EXPECT_FALSE(report["arms"][0].contains("gap_to_first"));
    const auto& g = report["arms"][1]["gap_to_first"]["best_val_loss"];
    EXPECT_NEAR(g["gap"].get<double>(), gap, 1e-12);
    EXPECT_NEAR(g["se"].get<double>(), se, 1e-12);
    char cell[64];
    std::snprintf(cell, sizeof cell, "%s%.4f \u00b1 %.4f", gap >= 0 ? "+" : "", gap, se);
    EXPECT_NE(table_row(res.table, "  best val loss:").find(std::string("sigmoid ") + cell), std::string::npos)
        << cell << "\n" << res.table;
    const std::string md = fixture::read_text(dir / "report" / "report.md");
    EXPECT_NE(md.find("Gap to **softmax**"), std::string::npos) << md;
    EXPECT_NE(md.find(std::string("| best val loss | ") + cell + " |"), std::string::npos) << md;
  }
  EXPECT_NE(table_row(res.table, "runs (seeds)").find("2 (seeds 1, 2)"), std::string::npos) << res.table;
  EXPECT_NE(table_row(res.table, "status").find("2 completed"), std::string::npos) << res.table;
  for (const auto& run : report["runs"]) EXPECT_TRUE(run["arm"] == "softmax" || run["arm"] == "sigmoid");
  const std::string md = fixture::read_text(dir / "report" / "report.md");
  EXPECT_NE(md.find("Range over the runs"), std::string::npos) << md;
  EXPECT_NE(md.find("(seed 2)"), std::string::npos) << md;
  if (res.plot_error.rfind("plots skipped", 0) != 0) {
    ASSERT_TRUE(res.plot_error.empty()) << res.plot_error;
    for (const char* png : {"loss.png", "grad_norm.png", "grad_norm_layers.png"})
      EXPECT_TRUE(fs::exists(dir / "report" / png)) << png;
  }

  // Runs of one arm whose configs differ in more than the seed: a warning naming the key and both values.
  trainer::ReportOptions mixed;
  mixed.arms = {{"mixed", {arms[0].run_dirs[0], arms[1].run_dirs[1]}}};
  mixed.out_dir = (dir / "mixed").string();
  mixed.plots = false;
  const auto warned = trainer::make_report(mixed);
  ASSERT_EQ(warned.warnings.size(), 1u);
  EXPECT_NE(warned.warnings[0].find("attention.kind (softmax vs sigmoid)"), std::string::npos) << warned.warnings[0];
  EXPECT_EQ(warned.warnings[0].find("train.seed"), std::string::npos) << warned.warnings[0];
  EXPECT_NE(fixture::read_text(dir / "mixed" / "report.md").find("differ in more than the seed"), std::string::npos);

  // A key one run's config lacks (as a run made before sigtrain had that key): listed apart with its value, not
  // reported as a difference of setting.
  const fs::path older = dir / "older_run";
  fs::copy(arms[0].run_dirs[1], older, fs::copy_options::recursive);
  {
    std::string yaml = fixture::read_text(older / "config.yaml");
    const size_t at = yaml.find("  head_loss: auto\n");
    ASSERT_NE(at, std::string::npos) << yaml;
    yaml.erase(at, std::string("  head_loss: auto\n").size());
    std::ofstream(older / "config.yaml") << yaml;
  }
  trainer::ReportOptions with_older;
  with_older.arms = {{"softmax", {arms[0].run_dirs[0], older.string()}}};
  with_older.out_dir = (dir / "with_older").string();
  with_older.plots = false;
  const auto noted = trainer::make_report(with_older);
  ASSERT_EQ(noted.warnings.size(), 1u);
  EXPECT_EQ(noted.warnings[0].find("differ in more than the seed"), std::string::npos) << noted.warnings[0];
  EXPECT_NE(noted.warnings[0].find("keys that only "), std::string::npos) << noted.warnings[0];
  EXPECT_NE(noted.warnings[0].find("fused_ops.head_loss = auto ("), std::string::npos) << noted.warnings[0];

  // Today's positional form: each run its own arm, the table of single runs (no mean, no "runs (seeds)" row).
  trainer::ReportOptions positional;
  positional.run_dirs = {arms[0].run_dirs[0], arms[1].run_dirs[0]};
  positional.out_dir = (dir / "positional").string();
  positional.plots = false;
  const auto single = trainer::make_report(positional);
  EXPECT_EQ(single.table.find("\u00b1"), std::string::npos) << single.table;
  EXPECT_EQ(single.table.find("gap to"), std::string::npos) << single.table;  // single runs: no gap section
  EXPECT_EQ(single.table.find("runs (seeds)"), std::string::npos) << single.table;
  const auto pj = fixture::read_json(dir / "positional" / "report.json");
  ASSERT_EQ(pj["arms"].size(), 2u);
  EXPECT_EQ(pj["arms"][0]["name"], "softmax-s1");
  EXPECT_EQ(pj["arms"][0]["n_runs"], 1);
  EXPECT_TRUE(pj["arms"][0]["stats"]["final_val_loss"]["std"].is_null());
}

// Hand-written run folders with known numbers: a task metric (top-1) that only two of three runs measured.
TEST(ReportArms, TaskMetricsAndMissingValuesCountOnlyTheRunsThatHaveThem) {
  const auto dir = fixture::fresh_dir("report_arms_metrics");
  struct Fake {
    std::string name;
    double val_loss;
    std::vector<double> top1;  // per evaluation at steps 2, 4; empty: never evaluated top-1
  };
  const std::vector<Fake> fakes = {{"a", 1.5, {0.25, 0.5}}, {"b", 2.5, {0.75, 0.7}}, {"c", 3.5, {}}};
  std::vector<std::string> dirs;
  for (const auto& f : fakes) {
    const fs::path run = dir / f.name;
    fs::create_directories(run);
    nlohmann::json summary = {{"status", "completed"}, {"last_step", 4}, {"final_val_loss", f.val_loss},
                              {"best_val_loss", f.val_loss}, {"tokens_per_s", 100.0}};
    summary["report_metrics"] = nlohmann::json::array({{{"key", "top1"}, {"label", "top-1 acc"},
                                                        {"higher_is_better", true}}});
    std::ofstream(run / "summary.json") << summary.dump();
    std::ofstream jsonl(run / "metrics.jsonl");
    for (int step = 1; step <= 4; ++step) {
      nlohmann::json t = {{"type", "train"}, {"step", step}, {"loss", 5.0 - step}, {"grad_norm", 1.0}};
      if (!f.top1.empty() && step % 2 == 0) {  // attention statistics at steps 2 and 4 in runs a and b only
        t["attn/max_abs_logit"] = 10.0 * step + f.val_loss;
        t["attn/row_mass_max"] = 1.0;
      }
      jsonl << t.dump() << "\n";
      if (step % 2 == 0) {
        nlohmann::json e = {{"type", "eval"}, {"step", step}, {"val_loss", f.val_loss}};
        if (!f.top1.empty()) e["top1"] = f.top1[step / 2 - 1];
        jsonl << e.dump() << "\n";
      }
    }
    dirs.push_back(run.string());
  }
  trainer::ReportOptions ro;
  ro.arms = {{"three", dirs}};
  ro.out_dir = (dir / "report").string();
  ro.plots = false;
  const auto res = trainer::make_report(ro);
  // No config.yaml in these folders: said, not silently compared.
  EXPECT_EQ(res.warnings.size(), 3u);
  const auto arm = fixture::read_json(dir / "report" / "report.json")["arms"][0];
  expect_stats(arm, "final_val_loss", {1.5, 2.5, 3.5}, 1e-12);
  EXPECT_NEAR(arm["stats"]["final_val_loss"]["std"].get<double>(), 1.0, 1e-12);
  expect_stats(arm, "final_top1", {0.5, 0.7}, 1e-12);  // n = 2 of 3
  expect_stats(arm, "best_top1", {0.5, 0.75}, 1e-12);
  EXPECT_NEAR(arm["stats"]["final_top1"]["std"].get<double>(), std::sqrt(0.02), 1e-12);
  EXPECT_NE(table_row(res.table, "final top-1 acc").find("0.6000 \u00b1 0.1414 (n=2)"), std::string::npos)
      << res.table;
  EXPECT_NE(table_row(res.table, "final val loss").find("2.5000 \u00b1 1.0000"), std::string::npos) << res.table;
  // The top-1 curve: at step 2 the mean of 0.25 and 0.75 over the two runs that have it.
  const auto& top1 = arm["curves"]["eval_metrics"]["top1"];
  EXPECT_EQ(top1["step"], nlohmann::json({2, 4}));
  EXPECT_EQ(top1["n"], nlohmann::json({2, 2}));
  EXPECT_NEAR(top1["mean"][0].get<double>(), 0.5, 1e-12);
  EXPECT_NEAR(top1["max"][1].get<double>(), 0.7, 1e-12);
  // The attention statistics' last values, over the runs that measured them: steps 4 of a and b.
  expect_stats(arm, "last_max_abs_logit", {41.5, 42.5}, 1e-12);
  EXPECT_NE(table_row(res.table, "max abs logit, last measured").find("42 \u00b1 0.7071 (n=2)"), std::string::npos)
      << res.table;
  // Without any run that measured them, no such rows.
  ro.arms = {{"plain", {dirs[2]}}};
  ro.out_dir = (dir / "report_plain").string();
  const auto plain = trainer::make_report(ro);
  EXPECT_EQ(plain.table.find("last measured"), std::string::npos) << plain.table;
}

TEST(ReportArms, MalformedArmsNameTheFlagAndWhatWasExpected) {
  const std::string form = "expected NAME=RUN[,RUN...]";
  auto arm = trainer::parse_arm_spec("softmax=runs/a,runs/b");
  EXPECT_EQ(arm.name, "softmax");
  EXPECT_EQ(arm.run_dirs, (std::vector<std::string>{"runs/a", "runs/b"}));
  for (const auto& [spec, what] : std::vector<std::pair<std::string, std::string>>{
           {"softmax=", "no run folders after '='"},
           {"softmax", "no '='"},
           {"=runs/a", "no arm name"},
           {"softmax=runs/a,", "an empty run folder"},
           {"softmax=,runs/a", "an empty run folder"}}) {
    const std::string e = error_of([&] { trainer::parse_arm_spec(spec); });
    EXPECT_NE(e.find("--arm '" + spec + "'"), std::string::npos) << e;
    EXPECT_NE(e.find(what), std::string::npos) << e;
    EXPECT_NE(e.find(form), std::string::npos) << e;
  }
  const auto dir = fixture::fresh_dir("report_arms_errors");
  fs::create_directories(dir / "run");
  std::ofstream(dir / "run" / "summary.json") << R"({"status": "completed"})";
  const std::string run = (dir / "run").string(), missing = (dir / "missing").string();
  auto report_error = [&](std::vector<trainer::ReportArm> arms, std::vector<std::string> positional = {}) {
    trainer::ReportOptions ro;
    ro.arms = std::move(arms);
    ro.run_dirs = std::move(positional);
    ro.out_dir = (dir / "out").string();
    ro.plots = false;
    return error_of([&] { trainer::make_report(ro); });
  };
  std::string e = report_error({{"a", {run}}, {"a", {missing}}});
  EXPECT_NE(e.find("the arm name 'a' is given twice"), std::string::npos) << e;
  e = report_error({{"a", {run, missing}}});
  EXPECT_NE(e.find("--arm a: run folder '" + missing + "' does not exist"), std::string::npos) << e;
  e = report_error({{"a", {run}}}, {run});
  EXPECT_NE(e.find("listed twice"), std::string::npos) << e;
  e = report_error({});
  EXPECT_NE(e.find("no run folders given"), std::string::npos) << e;
  EXPECT_FALSE(fs::exists(dir / "out")) << "a refused report writes nothing";
  // Every one is bad input (exit status 2), not a failed run.
  try {
    trainer::parse_arm_spec("x");
    FAIL();
  } catch (const InputError&) {
  }
}
