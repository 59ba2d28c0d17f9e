#pragma once
// The `speech` section of a YAML string through the library's parser, every key consumed (the speech config tests).
#include <string>

#include "common/config.h"
#include "data/speech/speech_config.h"

namespace speech_test {

inline sigtrain::speech::SpeechDataConfig parse_speech_config(const std::string& yaml) {
  auto tree = sigtrain::config::ConfigTree::from_string(yaml, "test.yaml");
  sigtrain::config::SectionReader r(tree, "speech");
  auto c = sigtrain::speech::parse_speech_data_config(r);
  tree.check_all_consumed();
  return c;
}

}  // namespace speech_test
