#include "trainer/loop/stop_signal.h"

#include <signal.h>
#include <unistd.h>

#include <stdexcept>

namespace sigtrain::trainer {
namespace {

volatile sig_atomic_t g_received = 0;
bool g_installed = false;
struct sigaction g_old_term {}, g_old_int {};

void on_stop_signal(int sig, siginfo_t* info, void* /*context*/) {
  if (g_received == 0) {
    g_received = sig;
    return;
  }
  // A second one: the default action, now (signal() and raise() are async-signal-safe). Except from the parent
  // process: `sigtrain launch` forwards a stop to every rank, which then has it twice when the terminal's Ctrl-C or
  // the scheduler signalled the whole process group.
  if (info != nullptr && info->si_pid == ::getppid()) return;
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

}  // namespace

StopSignals::StopSignals() {
  if (g_installed) throw std::logic_error("StopSignals: already installed");
  g_received = 0;
  struct sigaction sa {};
  sa.sa_sigaction = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_SIGINFO | SA_RESTART;  // the sender's pid; a read or write the signal interrupts carries on
  ::sigaction(SIGTERM, &sa, &g_old_term);
  ::sigaction(SIGINT, &sa, &g_old_int);
  g_installed = true;
}

StopSignals::~StopSignals() {
  ::sigaction(SIGTERM, &g_old_term, nullptr);
  ::sigaction(SIGINT, &g_old_int, nullptr);
  g_installed = false;
}

int StopSignals::received() { return g_received; }

const char* stop_signal_name(int sig) {
  switch (sig) {
    case SIGTERM: return "SIGTERM";
    case SIGINT: return "SIGINT";
    default: return "a signal";
  }
}

}  // namespace sigtrain::trainer
