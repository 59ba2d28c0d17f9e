#include "common/crash_report.h"

#include <execinfo.h>
#include <signal.h>
#include <unistd.h>

#include <cstring>
#include <vector>

namespace sigtrain {
namespace {

constexpr int kFatalSignals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};

void write_stderr(const char* text) {
  // write(2) is async-signal-safe; a short write here is not worth a retry loop.
  [[maybe_unused]] const ssize_t n = ::write(STDERR_FILENO, text, std::strlen(text));
}

const char* signal_name(int sig) {
  switch (sig) {
    case SIGSEGV: return "SIGSEGV (invalid memory access)";
    case SIGBUS: return "SIGBUS (bus error)";
    case SIGFPE: return "SIGFPE (arithmetic error)";
    case SIGILL: return "SIGILL (illegal instruction)";
    case SIGABRT: return "SIGABRT (abort)";
    default: return "fatal signal";
  }
}

void on_fatal_signal(int sig) {
  write_stderr("\nsigtrain: ");
  write_stderr(signal_name(sig));
  write_stderr("; stack of the thread that got it:\n");
  void* frames[64];
  const int n = ::backtrace(frames, 64);
  ::backtrace_symbols_fd(frames, n, STDERR_FILENO);
  // SA_RESETHAND restored the default action: the same signal now ends the process as it would have.
  ::raise(sig);
}

}  // namespace

void install_crash_report() {
  // backtrace() loads libgcc on its first call, which may allocate: do it now, not inside the handler.
  void* warm[1];
  ::backtrace(warm, 1);
  // An own stack for the handler, so that a stack overflow can be reported too.
  static std::vector<char> alt_stack(1 << 16);
  stack_t ss{};
  ss.ss_sp = alt_stack.data();
  ss.ss_size = alt_stack.size();
  ::sigaltstack(&ss, nullptr);
  struct sigaction sa {};
  sa.sa_handler = on_fatal_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESETHAND | SA_ONSTACK;
  for (int sig : kFatalSignals) ::sigaction(sig, &sa, nullptr);
}

}  // namespace sigtrain
