#pragma once
// Config tree and typed section readers.
//
// A run's config is a merge of YAML files (each may name `base:` files, resolved relative to itself; later files
// override earlier ones) and `--set key.path=value` overrides. Every leaf remembers where it came from (file and
// line), so every error can say "configs/x.yaml:12: model.n_layer: expected an integer >= 1, got 'abc'".
//
// Components own their sections: models/ reads `model` and `attention`, data/ reads `data`, trainer/ reads
// `optim`, `schedule`, `train`, `eval`, `checkpoint`, `logging`. Each reads its keys through a SectionReader, which
//   * checks type and range and throws ConfigError naming file, line, key path and what was expected;
//   * records the resolved value (default included) into the resolved tree printed by `sigtrain config` and
//     saved as the run's config.yaml;
//   * marks the key as consumed. After all components have parsed, ConfigTree::check_all_consumed() turns any key
//     no component read into an error ("unknown key", with the closest known key as a suggestion).
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace sigtrain::config {

struct SourceLoc {
  std::string file;  // file path, or "--set" for command-line overrides, or "<default>"
  int line = 0;      // 1-based; 0 when unknown
  std::string str() const;  // "file:line" or "file"
};

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One node of the merged config. Scalars keep their YAML text; typed conversion happens in SectionReader.
struct Node {
  enum class Kind { kNull, kScalar, kSequence, kMap };
  Kind kind = Kind::kNull;
  std::string scalar;                                   // kScalar
  std::vector<Node> items;                              // kSequence
  std::vector<std::pair<std::string, Node>> entries;    // kMap, in insertion order
  SourceLoc loc;
  bool quoted = false;                                  // scalar was quoted in YAML (always a string)
  mutable bool consumed = false;

  const Node* find(const std::string& key) const;
  Node* find(const std::string& key);
};

class ConfigTree {
 public:
  // Loads files in order (each with its `base:` chain) and applies `key.path=value` overrides.
  static ConfigTree load(const std::vector<std::string>& files, const std::vector<std::string>& overrides);
  // From a YAML string (tests, checkpoints). `origin` names it in errors.
  static ConfigTree from_string(const std::string& yaml, const std::string& origin);

  const Node& root() const { return root_; }
  // Throws ConfigError for the first key no SectionReader read (file:line, key path, suggestion).
  void check_all_consumed() const;

  // The resolved config: every value a reader returned, defaults included, as YAML text.
  std::string resolved_yaml() const;
  Node& resolved() { return resolved_; }

 private:
  Node root_;
  Node resolved_;
  friend class SectionReader;
};

// Typed access to one section (e.g. "model") or sub-section ("model.attention").
class SectionReader {
 public:
  // `path` is the dotted key path of the section; a missing section reads as empty (all defaults).
  SectionReader(ConfigTree& tree, const std::string& path);

  const std::string& path() const { return path_; }
  bool has(const std::string& key) const;

  int64_t get_int(const std::string& key, int64_t default_value,
                  int64_t min = INT64_MIN, int64_t max = INT64_MAX);
  double get_double(const std::string& key, double default_value,
                    double min = -1e300, double max = 1e300);
  bool get_bool(const std::string& key, bool default_value);
  std::string get_string(const std::string& key, const std::string& default_value);
  // One of `allowed`; the error lists them.
  std::string get_enum(const std::string& key, const std::string& default_value,
                       const std::vector<std::string>& allowed);
  // `null` (or absent with a null default) gives nullopt, e.g. `clip: null` turns clipping off.
  std::optional<double> get_optional_double(const std::string& key, std::optional<double> default_value,
                                            double min = -1e300, double max = 1e300);
  std::optional<int64_t> get_optional_int(const std::string& key, std::optional<int64_t> default_value,
                                          int64_t min = INT64_MIN, int64_t max = INT64_MAX);
  // Either a number or one of the named words, e.g. attention.bias: -log_n | <number>.
  // Returns the word, or the number formatted as text, with `*number_out` set when it is a number.
  std::string get_number_or_enum(const std::string& key, const std::string& default_value,
                                 const std::vector<std::string>& words, double* number_out);
  std::vector<std::string> get_string_list(const std::string& key, const std::vector<std::string>& default_value);
  std::vector<double> get_double_list(const std::string& key, const std::vector<double>& default_value);
  // A file path; relative paths are resolved against the directory of the file that set it (or the current
  // directory for --set and defaults). Empty stays empty.
  std::string get_path(const std::string& key, const std::string& default_value);

  SectionReader sub(const std::string& key);

  // Throws ConfigError at the key's location: "<file:line>: <path.key>: <message>". Use for cross-key checks.
  [[noreturn]] void fail(const std::string& key, const std::string& message) const;

 private:
  const Node* lookup(const std::string& key) const;
  void record(const std::string& key, Node value);
  ConfigTree* tree_;
  std::string path_;
  const Node* section_;
};

// Whether a config file holds no keys at all (empty, only comments or whitespace, or `{}`): a run from it would
// train on defaults alone, which is almost always the wrong file. ConfigError when it does not exist or is not YAML.
bool config_file_is_empty(const std::string& path);

// Compares two resolved configs (YAML text) at the given dotted key paths (a section or a single key) and returns
// one line per difference: "model.n_layer: 4 -> 6". Used to refuse resuming a checkpoint under another config.
std::vector<std::string> config_differences(const std::string& yaml_before, const std::string& yaml_after,
                                            const std::vector<std::string>& key_paths);

}  // namespace sigtrain::config
