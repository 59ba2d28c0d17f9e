#pragma once
// A fatal signal (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT) prints its name and the stack of the thread that got
// it to stderr (glibc's backtrace: library + offset per frame, addr2line-able), then dies of the same signal, so
// the exit status stays 128 + signal. A crash on a machine one cannot log into then says where it happened.
namespace sigtrain {

void install_crash_report();

}  // namespace sigtrain
