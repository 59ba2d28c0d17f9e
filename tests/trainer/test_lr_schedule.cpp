#include <gtest/gtest.h>

#include <cmath>

#include "trainer/optim/lr_schedule.h"

using sigtrain::trainer::lr_at;
using sigtrain::trainer::ScheduleConfig;

TEST(LrSchedule, WarmupThenCosineToMinimum) {
  ScheduleConfig s;
  s.kind = "cosine";
  s.warmup_steps = 10;
  s.lr_min_ratio = 0.1;
  EXPECT_DOUBLE_EQ(lr_at(s, 1.0, 0, 110), 0.1);   // linear warmup: (step+1)/warmup
  EXPECT_DOUBLE_EQ(lr_at(s, 1.0, 9, 110), 1.0);
  EXPECT_DOUBLE_EQ(lr_at(s, 1.0, 10, 110), 1.0);  // cosine starts at the peak
  EXPECT_NEAR(lr_at(s, 1.0, 60, 110), 0.55, 1e-12);  // halfway: (peak + min) / 2
  EXPECT_NEAR(lr_at(s, 1.0, 110, 110), 0.1, 1e-12);
}

TEST(LrSchedule, LinearConstantAndWsd) {
  ScheduleConfig s;
  s.warmup_steps = 0;
  s.lr_min_ratio = 0.0;
  s.kind = "linear";
  EXPECT_NEAR(lr_at(s, 2.0, 50, 100), 1.0, 1e-12);
  s.kind = "constant";
  EXPECT_DOUBLE_EQ(lr_at(s, 2.0, 99, 100), 2.0);
  s.kind = "wsd";
  s.decay_fraction = 0.2;  // decay over the last 20 of 100 steps
  EXPECT_DOUBLE_EQ(lr_at(s, 2.0, 79, 100), 2.0);
  EXPECT_NEAR(lr_at(s, 2.0, 89, 100), 1.0, 1e-12);
  EXPECT_NEAR(lr_at(s, 2.0, 99, 100), 0.0, 1e-12);
}

TEST(LrSchedule, HorizonStepsOverridesTheRunLength) {
  ScheduleConfig s;
  EXPECT_EQ(sigtrain::trainer::schedule_steps(s, 300), 300);  // 0 = train.steps
  s.horizon_steps = 2000;
  EXPECT_EQ(sigtrain::trainer::schedule_steps(s, 300), 2000);
}
