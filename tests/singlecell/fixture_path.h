#pragma once
#include <string>

#ifndef SIGTRAIN_SC_FIXTURES
#define SIGTRAIN_SC_FIXTURES "tests/fixtures/singlecell"
#endif

inline std::string fixture(const std::string& name) { return std::string(SIGTRAIN_SC_FIXTURES) + "/" + name; }
