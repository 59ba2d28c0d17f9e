// summary.json tells only what was measured: a run that failed part-way records the step it reached and the losses
// it had logged; everything it never measured is null (never 0, never inf).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/trainer/training_fixture.h"
#include "trainer/loop/run_files.h"

using namespace sigtrain;

TEST(RunFiles, FailedRunSummaryHoldsTheStepReachedAndNullForTheUnmeasured) {
  auto dir = fixture::fresh_dir("run_files_failed");
  trainer::TrainState state;  // as a run that failed at step 7: logged a training loss, never evaluated
  state.step = 7;
  state.tokens_seen = 7 * 512;
  state.last_train_loss = 3.25;
  trainer::RunSummary summary;
  summary.status = "failed";
  summary.reason = "disk full";
  trainer::record_progress(summary, state);
  trainer::write_summary((dir / "summary.json").string(), summary, nlohmann::json::object());

  const auto s = fixture::read_json(dir / "summary.json");
  EXPECT_EQ(s["status"], "failed");
  EXPECT_EQ(s["reason"], "disk full");
  EXPECT_EQ(s["last_step"], 7);
  EXPECT_EQ(s["tokens_seen"], 7 * 512);
  EXPECT_EQ(s["final_train_loss"], 3.25);
  for (const char* unmeasured : {"final_val_loss", "best_val_loss", "tokens_per_s", "param_checksum"})
    EXPECT_TRUE(s[unmeasured].is_null()) << unmeasured << ": " << s.dump(2);
}

TEST(RunFiles, EvaluatedLossesAreRecorded) {
  auto dir = fixture::fresh_dir("run_files_evaluated");
  trainer::TrainState state;
  state.step = 20;
  state.last_val_loss = 2.5;
  state.best_val_loss = 2.25;
  trainer::RunSummary summary;
  trainer::record_progress(summary, state);
  summary.tokens_per_s = 1000.0;
  trainer::write_summary((dir / "summary.json").string(), summary, nlohmann::json::object());
  const auto s = fixture::read_json(dir / "summary.json");
  EXPECT_EQ(s["final_val_loss"], 2.5);
  EXPECT_EQ(s["best_val_loss"], 2.25);
  EXPECT_EQ(s["tokens_per_s"], 1000.0);
  EXPECT_TRUE(s["final_train_loss"].is_null()) << s.dump(2);
}
