// install_crash_report: a fatal signal names itself and prints a stack, and the process still dies of it.
#include "common/crash_report.h"

#include <gtest/gtest.h>
#include <signal.h>

namespace {

[[gnu::noinline]] void crash_with(int sig) { ::raise(sig); }

}  // namespace

TEST(CrashReportDeathTest, SegfaultPrintsItsNameAndAStackThenDiesOfIt) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        sigtrain::install_crash_report();
        crash_with(SIGSEGV);
      },
      testing::KilledBySignal(SIGSEGV), "sigtrain: SIGSEGV \\(invalid memory access\\); stack of the thread.*\n.*test_common");
}

TEST(CrashReportDeathTest, AbortIsReportedToo) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        sigtrain::install_crash_report();
        crash_with(SIGABRT);
      },
      testing::KilledBySignal(SIGABRT), "sigtrain: SIGABRT");
}
