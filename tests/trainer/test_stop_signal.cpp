// SIGTERM / SIGINT while training (trainer/loop/stop_signal.h): the run finishes the step, saves a checkpoint of it,
// ends `interrupted` with exit status 128 + N, and resuming it gives the uninterrupted run bit for bit. The signal
// is the real one: the process sends it to itself mid-step (test_hooks.sigterm_step).
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <string>

#include "tests/trainer/training_fixture.h"
#include "trainer/loop/stop_signal.h"

using namespace sigtrain;

TEST(StopSignals, FirstSignalIsRecordedSecondKills) {
  {
    const trainer::StopSignals stop;
    EXPECT_EQ(trainer::StopSignals::received(), 0);
    std::raise(SIGINT);
    EXPECT_EQ(trainer::StopSignals::received(), SIGINT);
    EXPECT_STREQ(trainer::stop_signal_name(SIGINT), "SIGINT");
  }
  // A second signal while stopping takes the default action at once.
  EXPECT_EXIT(
      {
        const trainer::StopSignals stop;
        std::raise(SIGTERM);
        std::raise(SIGTERM);
        std::exit(0);
      },
      ::testing::KilledBySignal(SIGTERM), "");
  // Once the run is over, the previous handlers are back: SIGTERM kills again.
  EXPECT_EXIT(
      {
        { const trainer::StopSignals stop; }
        std::raise(SIGTERM);
        std::exit(0);
      },
      ::testing::KilledBySignal(SIGTERM), "");
}

// `sigtrain launch` passes a stop on to its ranks, which may have it already (Ctrl-C and schedulers signal the whole
// process group): a repeat from the parent process must not kill a rank that is saving its checkpoint.
TEST(StopSignals, RepeatFromTheParentProcessDoesNotKill) {
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const trainer::StopSignals stop;
    std::raise(SIGTERM);  // the first one, from itself
    const char byte = 'r';
    if (::write(ready[1], &byte, 1) != 1) ::_exit(4);
    ::usleep(500 * 1000);  // the parent's SIGTERM arrives meanwhile
    ::_exit(trainer::StopSignals::received() == SIGTERM ? 0 : 3);
  }
  char byte = 0;
  ASSERT_EQ(::read(ready[0], &byte, 1), 1);
  ASSERT_EQ(::kill(child, SIGTERM), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << (WIFSIGNALED(status) ? "killed by signal " + std::to_string(WTERMSIG(status))
                              : "exit " + std::to_string(WEXITSTATUS(status)));
  ::close(ready[0]);
  ::close(ready[1]);
}

TEST(StopSignals, SigtermMidRunCheckpointsThatStepAndResumesBitExact) {
  auto dir = fixture::fresh_dir("stop_signal");
  ASSERT_EQ(fixture::train_tiny(dir, "straight"), 0);

  // Step 13 is between the checkpoints of steps 10 and 20: stopping keeps its work.
  EXPECT_EQ(fixture::train_tiny(dir, "stopped", {"test_hooks.sigterm_step=13"}), 128 + SIGTERM);
  const auto summary = fixture::read_json(dir / "stopped" / "summary.json");
  EXPECT_EQ(summary["status"], "interrupted");
  EXPECT_EQ(summary["last_step"], 13);
  EXPECT_NE(summary["reason"].get<std::string>().find("stopped by SIGTERM after step 13, with a checkpoint"),
            std::string::npos)
      << summary["reason"];
  EXPECT_TRUE(std::filesystem::exists(dir / "stopped" / "checkpoints" / "step_00000013" / "DONE"));
  EXPECT_FALSE(std::filesystem::exists(dir / "stopped" / "checkpoints" / "step_00000014"));

  ASSERT_EQ(fixture::resume_in_place(dir / "stopped"), 0);
  EXPECT_EQ(fixture::read_json(dir / "stopped" / "summary.json")["status"], "completed");
  fixture::expect_same_summary(dir / "straight", dir / "stopped");
  fixture::expect_same_records(dir / "straight", dir / "stopped");
}

// A signal during a step that saves a checkpoint anyway (step 10 of checkpoint.every 10) keeps that one checkpoint.
TEST(StopSignals, SigtermOnACheckpointStepSavesOnce) {
  auto dir = fixture::fresh_dir("stop_signal_ckpt_step");
  EXPECT_EQ(fixture::train_tiny(dir, "stopped", {"test_hooks.sigterm_step=10"}), 128 + SIGTERM);
  EXPECT_EQ(fixture::read_json(dir / "stopped" / "summary.json")["last_step"], 10);
  EXPECT_TRUE(std::filesystem::exists(dir / "stopped" / "checkpoints" / "step_00000010" / "DONE"));
  const std::string log = fixture::read_text(dir / "stopped" / "train.log");
  const std::string saved = "checkpoint " + (dir / "stopped" / "checkpoints" / "step_00000010").string();
  const size_t first = log.find(saved);
  ASSERT_NE(first, std::string::npos) << log;
  EXPECT_EQ(log.find(saved, first + saved.size()), std::string::npos) << "step 10 was saved twice";
}
