// sc_inspect FILE [LABEL_COLUMN] [LAYER]: prints the inspect report (torch-free stand-in for `sigtrain data inspect`).
#include <cstdio>
#include <exception>

#include "data/singlecell/inspect_report.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: sc_inspect FILE [LABEL_COLUMN] [LAYER]\n");
    return 2;
  }
  try {
    sigtrain::singlecell::OpenOptions o;
    if (argc > 3) o.layer = argv[3];
    std::fputs(sigtrain::singlecell::inspect_file(argv[1], argc > 2 ? argv[2] : "", o).to_text().c_str(), stdout);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
