#pragma once
// The message of the exception of type E that f throws, or "(no error)": the tests of error messages compare it
// with what they expect.
#include <exception>
#include <functional>
#include <string>

namespace sigtrain::testing {

template <class E = std::exception>
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace sigtrain::testing
