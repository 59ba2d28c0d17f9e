#include "common/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <sstream>

namespace sigtrain::config {
namespace fs = std::filesystem;

std::string SourceLoc::str() const {
  if (line > 0) return file + ":" + std::to_string(line);
  return file;
}

const Node* Node::find(const std::string& key) const {
  for (const auto& [k, v] : entries)
    if (k == key) return &v;
  return nullptr;
}

Node* Node::find(const std::string& key) {
  for (auto& [k, v] : entries)
    if (k == key) return &v;
  return nullptr;
}

namespace {

[[noreturn]] void throw_at(const SourceLoc& loc, const std::string& key_path, const std::string& message) {
  std::string where = loc.str();
  throw ConfigError((where.empty() ? "" : where + ": ") + (key_path.empty() ? "" : key_path + ": ") + message);
}

Node from_yaml(const YAML::Node& y, const std::string& file) {
  Node n;
  n.loc = SourceLoc{file, y.Mark().line >= 0 ? y.Mark().line + 1 : 0};
  switch (y.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      n.kind = Node::Kind::kNull;
      break;
    case YAML::NodeType::Scalar:
      n.kind = Node::Kind::kScalar;
      n.scalar = y.Scalar();
      n.quoted = y.Tag() == "!";  // yaml-cpp tags quoted scalars with "!"
      if (!n.quoted && (n.scalar == "~" || n.scalar == "null" || n.scalar == "Null" || n.scalar == "NULL")) {
        n.kind = Node::Kind::kNull;
        n.scalar.clear();
      }
      break;
    case YAML::NodeType::Sequence:
      n.kind = Node::Kind::kSequence;
      for (const auto& item : y) n.items.push_back(from_yaml(item, file));
      break;
    case YAML::NodeType::Map: {
      n.kind = Node::Kind::kMap;
      std::set<std::string> seen;
      for (const auto& kv : y) {
        std::string key = kv.first.as<std::string>();
        if (!seen.insert(key).second)
          throw_at(SourceLoc{file, kv.first.Mark().line + 1}, key, "duplicate key");
        Node value = from_yaml(kv.second, file);
        value.loc.line = kv.first.Mark().line + 1;  // errors point at the key's line
        n.entries.emplace_back(key, std::move(value));
      }
      break;
    }
  }
  return n;
}

// Maps merge key by key; anything else replaces.
void merge_into(Node& dst, const Node& src) {
  if (dst.kind == Node::Kind::kMap && src.kind == Node::Kind::kMap) {
    for (const auto& [k, v] : src.entries) {
      if (Node* existing = dst.find(k))
        merge_into(*existing, v);
      else
        dst.entries.emplace_back(k, v);
    }
    return;
  }
  dst = src;
}

YAML::Node load_yaml_file(const fs::path& path) {
  try {
    return YAML::LoadFile(path.string());
  } catch (const YAML::Exception& e) {
    throw ConfigError(path.string() + ":" + std::to_string(e.mark.line + 1) + ": invalid YAML: " + e.msg);
  }
}

Node load_file_with_bases(const fs::path& path, std::vector<fs::path>& stack) {
  fs::path canonical = fs::weakly_canonical(path);
  if (std::find(stack.begin(), stack.end(), canonical) != stack.end())
    throw ConfigError(path.string() + ": `base:` inheritance forms a cycle");
  if (!fs::exists(path)) {
    std::string msg = path.string() + ": config file does not exist";
    if (!stack.empty()) msg += " (named in `base:` of " + stack.back().string() + ")";
    throw ConfigError(msg);
  }
  Node doc = from_yaml(load_yaml_file(path), path.string());
  if (doc.kind == Node::Kind::kNull) doc.kind = Node::Kind::kMap;
  if (doc.kind != Node::Kind::kMap)
    throw_at(doc.loc, "", "expected a mapping of sections at the top of the config file");

  stack.push_back(canonical);
  Node merged;
  merged.kind = Node::Kind::kMap;
  merged.loc = doc.loc;
  if (const Node* base = doc.find("base")) {
    std::vector<const Node*> bases;
    if (base->kind == Node::Kind::kScalar)
      bases.push_back(base);
    else if (base->kind == Node::Kind::kSequence)
      for (const auto& item : base->items) bases.push_back(&item);
    else if (base->kind != Node::Kind::kNull)
      throw_at(base->loc, "base", "expected a file path or a list of file paths");
    for (const Node* b : bases) {
      if (b->kind != Node::Kind::kScalar) throw_at(b->loc, "base", "expected a file path");
      merge_into(merged, load_file_with_bases(path.parent_path() / b->scalar, stack));
    }
  }
  stack.pop_back();
  doc.entries.erase(std::remove_if(doc.entries.begin(), doc.entries.end(),
                                   [](const auto& kv) { return kv.first == "base"; }),
                    doc.entries.end());
  merge_into(merged, doc);
  return merged;
}

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> parts;
  std::stringstream ss(path);
  std::string part;
  while (std::getline(ss, part, '.')) parts.push_back(part);
  return parts;
}

void apply_override(Node& root, const std::string& assignment) {
  auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    throw ConfigError("--set " + assignment + ": expected key.path=value");
  std::string key = assignment.substr(0, eq);
  std::string value = assignment.substr(eq + 1);
  YAML::Node parsed;
  try {
    parsed = YAML::Load(value.empty() ? "null" : value);
  } catch (const YAML::Exception& e) {
    throw ConfigError("--set " + assignment + ": value is not valid YAML: " + e.msg);
  }
  Node value_node = from_yaml(parsed, "--set");
  value_node.loc = SourceLoc{"--set " + key, 0};
  Node* cur = &root;
  auto parts = split_path(key);
  for (size_t i = 0; i < parts.size(); ++i) {
    if (parts[i].empty()) throw ConfigError("--set " + assignment + ": empty component in key path");
    if (cur->kind == Node::Kind::kNull) cur->kind = Node::Kind::kMap;
    if (cur->kind != Node::Kind::kMap)
      throw ConfigError("--set " + assignment + ": " + parts[i - 1] + " is not a section");
    Node* next = cur->find(parts[i]);
    if (!next) {
      Node fresh;
      fresh.loc = value_node.loc;
      cur->entries.emplace_back(parts[i], fresh);
      next = &cur->entries.back().second;
    }
    cur = next;
  }
  merge_into(*cur, value_node);
}

void emit(YAML::Emitter& out, const Node& n) {
  switch (n.kind) {
    case Node::Kind::kNull:
      out << YAML::Null;
      break;
    case Node::Kind::kScalar:
      if (n.quoted)
        out << YAML::DoubleQuoted << n.scalar;
      else
        out << n.scalar;
      break;
    case Node::Kind::kSequence:
      out << YAML::Flow << YAML::BeginSeq;
      for (const auto& item : n.items) emit(out, item);
      out << YAML::EndSeq;
      break;
    case Node::Kind::kMap:
      out << YAML::BeginMap;
      for (const auto& [k, v] : n.entries) {
        out << YAML::Key << k << YAML::Value;
        emit(out, v);
      }
      out << YAML::EndMap;
      break;
  }
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

void find_unconsumed(const Node& n, const std::string& path, const Node* resolved) {
  if (n.kind == Node::Kind::kMap) {
    for (const auto& [k, v] : n.entries) {
      std::string child_path = path.empty() ? k : path + "." + k;
      const Node* resolved_child = resolved ? resolved->find(k) : nullptr;
      if (!resolved_child) {
        std::string msg = path.empty() ? "unknown section" : "unknown key";
        if (resolved && resolved->kind == Node::Kind::kMap && !resolved->entries.empty()) {
          std::string best;
          size_t best_d = SIZE_MAX;
          for (const auto& [rk, rv] : resolved->entries) {
            size_t d = edit_distance(k, rk);
            if (d < best_d) best_d = d, best = rk;
          }
          if (best_d <= std::max<size_t>(2, k.size() / 3))
            msg += " (did you mean `" + (path.empty() ? best : path + "." + best) + "`?)";
          else {
            msg += path.empty() ? "; known sections:" : "; known keys here:";
            for (const auto& [rk, rv] : resolved->entries) msg += " " + rk;
          }
        } else if (!resolved) {
          msg += " (no component reads this section)";
        }
        throw_at(v.loc, child_path, msg);
      }
      if (resolved_child->kind == Node::Kind::kMap) find_unconsumed(v, child_path, resolved_child);
    }
  }
}

std::string scalar_text(const Node* n) {
  if (!n) return "";
  switch (n->kind) {
    case Node::Kind::kNull: return "null";
    case Node::Kind::kScalar: return "'" + n->scalar + "'";
    case Node::Kind::kSequence: return "a list";
    case Node::Kind::kMap: return "a mapping";
  }
  return "";
}

std::string format_double(double v) {
  std::ostringstream os;
  os.precision(17);
  os << v;
  // Round-trip exact, but prefer the shortest text that parses back to the same double.
  for (int p = 1; p <= 17; ++p) {
    std::ostringstream s;
    s.precision(p);
    s << v;
    if (std::strtod(s.str().c_str(), nullptr) == v) return s.str();
  }
  return os.str();
}

Node make_scalar(const std::string& text, bool quoted = false) {
  Node n;
  n.kind = Node::Kind::kScalar;
  n.scalar = text;
  n.quoted = quoted;
  return n;
}

Node make_null() { return Node{}; }

bool parse_int(const std::string& s, int64_t* out) {
  if (s.empty()) return false;
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(s.c_str(), &end, 0);
  if (errno != 0 || *end != '\0') return false;
  *out = v;
  return true;
}

bool parse_double(const std::string& s, double* out) {
  if (s.empty()) return false;
  std::string t = s;
  if (t == ".inf" || t == "+.inf" || t == ".Inf") t = "inf";
  if (t == "-.inf" || t == "-.Inf") t = "-inf";
  if (t == ".nan" || t == ".NaN") t = "nan";
  errno = 0;
  char* end = nullptr;
  double v = std::strtod(t.c_str(), &end);
  if (errno == ERANGE || *end != '\0') return false;
  *out = v;
  return true;
}

}  // namespace

bool config_file_is_empty(const std::string& path) {
  if (!fs::exists(path)) throw ConfigError(path + ": config file does not exist");
  const YAML::Node y = load_yaml_file(path);
  return y.IsNull() || (y.IsMap() && y.size() == 0);
}

ConfigTree ConfigTree::load(const std::vector<std::string>& files, const std::vector<std::string>& overrides) {
  ConfigTree tree;
  tree.root_.kind = Node::Kind::kMap;
  tree.resolved_.kind = Node::Kind::kMap;
  for (const auto& f : files) {
    std::vector<fs::path> stack;
    merge_into(tree.root_, load_file_with_bases(f, stack));
  }
  for (const auto& o : overrides) apply_override(tree.root_, o);
  return tree;
}

ConfigTree ConfigTree::from_string(const std::string& yaml, const std::string& origin) {
  ConfigTree tree;
  tree.resolved_.kind = Node::Kind::kMap;
  YAML::Node y;
  try {
    y = YAML::Load(yaml);
  } catch (const YAML::Exception& e) {
    throw ConfigError(origin + ":" + std::to_string(e.mark.line + 1) + ": invalid YAML: " + e.msg);
  }
  tree.root_ = from_yaml(y, origin);
  if (tree.root_.kind == Node::Kind::kNull) tree.root_.kind = Node::Kind::kMap;
  if (tree.root_.kind != Node::Kind::kMap) throw_at(tree.root_.loc, "", "expected a mapping of sections");
  return tree;
}

void ConfigTree::check_all_consumed() const { find_unconsumed(root_, "", &resolved_); }

std::string ConfigTree::resolved_yaml() const {
  YAML::Emitter out;
  emit(out, resolved_);
  return std::string(out.c_str()) + "\n";
}

// ------------------------------------------------------------------------------------------------------------------
// SectionReader
// ------------------------------------------------------------------------------------------------------------------

SectionReader::SectionReader(ConfigTree& tree, const std::string& path) : tree_(&tree), path_(path), section_(nullptr) {
  const Node* cur = &tree.root_;
  Node* res = &tree.resolved_;
  for (const auto& part : split_path(path)) {
    if (cur) {
      if (cur->kind == Node::Kind::kMap)
        cur = cur->find(part);
      else if (cur->kind == Node::Kind::kNull)
        cur = nullptr;
      else
        throw_at(cur->loc, path, "expected a section (a mapping of keys), got " + scalar_text(cur));
    }
    Node* next = res->find(part);
    if (!next) {
      Node fresh;
      fresh.kind = Node::Kind::kMap;
      res->entries.emplace_back(part, fresh);
      next = &res->entries.back().second;
    }
    res = next;
  }
  if (cur && cur->kind != Node::Kind::kMap && cur->kind != Node::Kind::kNull)
    throw_at(cur->loc, path, "expected a section (a mapping of keys), got " + scalar_text(cur));
  section_ = (cur && cur->kind == Node::Kind::kMap) ? cur : nullptr;
}

const Node* SectionReader::lookup(const std::string& key) const {
  if (!section_) return nullptr;
  const Node* n = section_->find(key);
  if (n) n->consumed = true;
  return n;
}

bool SectionReader::has(const std::string& key) const { return section_ && section_->find(key) != nullptr; }

void SectionReader::record(const std::string& key, Node value) {
  Node* res = &tree_->resolved_;
  for (const auto& part : split_path(path_)) res = res->find(part);
  if (Node* existing = res->find(key))
    *existing = std::move(value);
  else
    res->entries.emplace_back(key, std::move(value));
}

void SectionReader::fail(const std::string& key, const std::string& message) const {
  const Node* n = section_ ? section_->find(key) : nullptr;
  SourceLoc loc = n ? n->loc : SourceLoc{"<default>", 0};
  throw_at(loc, path_.empty() ? key : path_ + "." + key, message);
}

int64_t SectionReader::get_int(const std::string& key, int64_t def, int64_t min, int64_t max) {
  const Node* n = lookup(key);
  int64_t v = def;
  if (n) {
    if (n->kind != Node::Kind::kScalar || n->quoted || !parse_int(n->scalar, &v))
      fail(key, "expected an integer, got " + scalar_text(n));
  }
  if (v < min || v > max) {
    std::string range = (min != INT64_MIN && max != INT64_MAX)
                            ? "in [" + std::to_string(min) + ", " + std::to_string(max) + "]"
                        : min != INT64_MIN ? ">= " + std::to_string(min)
                                           : "<= " + std::to_string(max);
    fail(key, "expected an integer " + range + ", got " + std::to_string(v));
  }
  record(key, make_scalar(std::to_string(v)));
  return v;
}

double SectionReader::get_double(const std::string& key, double def, double min, double max) {
  const Node* n = lookup(key);
  double v = def;
  if (n) {
    if (n->kind != Node::Kind::kScalar || n->quoted || !parse_double(n->scalar, &v))
      fail(key, "expected a number, got " + scalar_text(n));
  }
  if (!(v >= min && v <= max)) {
    std::string range = (min > -1e300 && max < 1e300) ? "in [" + format_double(min) + ", " + format_double(max) + "]"
                        : min > -1e300                ? ">= " + format_double(min)
                                                      : "<= " + format_double(max);
    fail(key, "expected a number " + range + ", got " + format_double(v));
  }
  record(key, make_scalar(format_double(v)));
  return v;
}

bool SectionReader::get_bool(const std::string& key, bool def) {
  const Node* n = lookup(key);
  bool v = def;
  if (n) {
    static const std::set<std::string> yes{"true", "True", "TRUE", "yes", "on"};
    static const std::set<std::string> no{"false", "False", "FALSE", "no", "off"};
    if (n->kind == Node::Kind::kScalar && !n->quoted && yes.count(n->scalar))
      v = true;
    else if (n->kind == Node::Kind::kScalar && !n->quoted && no.count(n->scalar))
      v = false;
    else
      fail(key, "expected true or false, got " + scalar_text(n));
  }
  record(key, make_scalar(v ? "true" : "false"));
  return v;
}

std::string SectionReader::get_string(const std::string& key, const std::string& def) {
  const Node* n = lookup(key);
  std::string v = def;
  if (n) {
    if (n->kind != Node::Kind::kScalar) fail(key, "expected a string, got " + scalar_text(n));
    v = n->scalar;
  }
  record(key, make_scalar(v, true));
  return v;
}

std::string SectionReader::get_enum(const std::string& key, const std::string& def,
                                    const std::vector<std::string>& allowed) {
  const Node* n = lookup(key);
  std::string v = def;
  if (n) {
    if (n->kind != Node::Kind::kScalar) fail(key, "expected one of the words below, got " + scalar_text(n));
    v = n->scalar;
  }
  if (std::find(allowed.begin(), allowed.end(), v) == allowed.end()) {
    std::string list;
    for (const auto& a : allowed) list += (list.empty() ? "" : " | ") + a;
    fail(key, "expected one of " + list + ", got '" + v + "'");
  }
  record(key, make_scalar(v));
  return v;
}

std::optional<double> SectionReader::get_optional_double(const std::string& key, std::optional<double> def,
                                                         double min, double max) {
  const Node* n = lookup(key);
  if ((n && n->kind == Node::Kind::kNull) || (!n && !def)) {
    record(key, make_null());
    return std::nullopt;
  }
  if (!n) {
    record(key, make_scalar(format_double(*def)));
    return def;
  }
  double v;
  if (n->kind != Node::Kind::kScalar || n->quoted || !parse_double(n->scalar, &v))
    fail(key, "expected a number or null, got " + scalar_text(n));
  if (!(v >= min && v <= max))
    fail(key, "expected null or a number in [" + format_double(min) + ", " + format_double(max) + "], got " +
                  format_double(v));
  record(key, make_scalar(format_double(v)));
  return v;
}

std::optional<int64_t> SectionReader::get_optional_int(const std::string& key, std::optional<int64_t> def,
                                                       int64_t min, int64_t max) {
  const Node* n = lookup(key);
  if ((n && n->kind == Node::Kind::kNull) || (!n && !def)) {
    record(key, make_null());
    return std::nullopt;
  }
  int64_t v = def.value_or(0);
  if (n && (n->kind != Node::Kind::kScalar || n->quoted || !parse_int(n->scalar, &v)))
    fail(key, "expected an integer or null, got " + scalar_text(n));
  if (v < min || v > max)
    fail(key, "expected null or an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "], got " +
                  std::to_string(v));
  record(key, make_scalar(std::to_string(v)));
  return v;
}

std::string SectionReader::get_number_or_enum(const std::string& key, const std::string& def,
                                              const std::vector<std::string>& words, double* number_out) {
  const Node* n = lookup(key);
  std::string text = def;
  if (n) {
    if (n->kind != Node::Kind::kScalar) fail(key, "expected a number or a word, got " + scalar_text(n));
    text = n->scalar;
  }
  double v;
  if (!(n && n->quoted) && parse_double(text, &v) && std::isfinite(v)) {
    if (number_out) *number_out = v;
    record(key, make_scalar(format_double(v)));
    return format_double(v);
  }
  if (std::find(words.begin(), words.end(), text) == words.end()) {
    std::string list;
    for (const auto& w : words) list += (list.empty() ? "" : " | ") + w;
    fail(key, "expected a number or one of " + list + ", got '" + text + "'");
  }
  record(key, make_scalar(text));
  return text;
}

std::vector<std::string> SectionReader::get_string_list(const std::string& key,
                                                        const std::vector<std::string>& def) {
  const Node* n = lookup(key);
  std::vector<std::string> v = def;
  if (n) {
    v.clear();
    if (n->kind == Node::Kind::kScalar) {
      v.push_back(n->scalar);
    } else if (n->kind == Node::Kind::kSequence) {
      for (const auto& item : n->items) {
        if (item.kind != Node::Kind::kScalar) fail(key, "expected a list of strings, an item is " + scalar_text(&item));
        v.push_back(item.scalar);
      }
    } else if (n->kind != Node::Kind::kNull) {
      fail(key, "expected a list of strings, got " + scalar_text(n));
    }
  }
  Node out;
  out.kind = Node::Kind::kSequence;
  for (const auto& s : v) out.items.push_back(make_scalar(s, true));
  record(key, out);
  return v;
}

std::vector<double> SectionReader::get_double_list(const std::string& key, const std::vector<double>& def) {
  const Node* n = lookup(key);
  std::vector<double> v = def;
  if (n) {
    v.clear();
    if (n->kind != Node::Kind::kSequence && n->kind != Node::Kind::kNull)
      fail(key, "expected a list of numbers, got " + scalar_text(n));
    for (const auto& item : n->items) {
      double d;
      if (item.kind != Node::Kind::kScalar || !parse_double(item.scalar, &d))
        fail(key, "expected a list of numbers, an item is " + scalar_text(&item));
      v.push_back(d);
    }
  }
  Node out;
  out.kind = Node::Kind::kSequence;
  for (double d : v) out.items.push_back(make_scalar(format_double(d)));
  record(key, out);
  return v;
}

std::string SectionReader::get_path(const std::string& key, const std::string& def) {
  const Node* n = lookup(key);
  std::string v = def;
  if (n) {
    if (n->kind != Node::Kind::kScalar) fail(key, "expected a file path, got " + scalar_text(n));
    v = n->scalar;
    bool from_file = n->loc.line > 0 && n->loc.file.rfind("--set", 0) != 0;
    // Relative to the config file that names it; stored absolute so a resolved config (saved in the run folder
    // and in checkpoints) means the same file from anywhere.
    if (!v.empty() && fs::path(v).is_relative())
      v = fs::absolute(from_file ? fs::path(n->loc.file).parent_path() / v : fs::path(v)).lexically_normal().string();
  }
  record(key, make_scalar(v, true));
  return v;
}

SectionReader SectionReader::sub(const std::string& key) {
  if (section_) {
    if (const Node* n = section_->find(key)) {
      n->consumed = true;
      if (n->kind != Node::Kind::kMap && n->kind != Node::Kind::kNull)
        fail(key, "expected a section (a mapping of keys), got " + scalar_text(n));
    }
  }
  return SectionReader(*tree_, path_.empty() ? key : path_ + "." + key);
}

namespace {

void collect_leaves(const Node& n, const std::string& path, std::map<std::string, std::string>& out) {
  if (n.kind == Node::Kind::kMap) {
    for (const auto& [k, v] : n.entries) collect_leaves(v, path.empty() ? k : path + "." + k, out);
    return;
  }
  YAML::Emitter e;
  e << YAML::Flow;
  emit(e, n);
  out[path] = e.c_str();
}

const Node* find_path(const Node& root, const std::string& path) {
  const Node* cur = &root;
  for (const auto& part : split_path(path)) {
    if (!cur || cur->kind != Node::Kind::kMap) return nullptr;
    cur = cur->find(part);
  }
  return cur;
}

}  // namespace

std::vector<std::string> config_differences(const std::string& yaml_before, const std::string& yaml_after,
                                            const std::vector<std::string>& key_paths) {
  auto before = ConfigTree::from_string(yaml_before, "before");
  auto after = ConfigTree::from_string(yaml_after, "after");
  std::vector<std::string> diffs;
  for (const auto& path : key_paths) {
    std::map<std::string, std::string> a, b;
    if (const Node* n = find_path(before.root(), path)) collect_leaves(*n, path, a);
    if (const Node* n = find_path(after.root(), path)) collect_leaves(*n, path, b);
    for (const auto& [k, v] : a) {
      auto it = b.find(k);
      if (it == b.end())
        diffs.push_back(k + ": " + v + " -> (absent)");
      else if (it->second != v)
        diffs.push_back(k + ": " + v + " -> " + it->second);
    }
    for (const auto& [k, v] : b)
      if (!a.count(k)) diffs.push_back(k + ": (absent) -> " + v);
  }
  return diffs;
}

}  // namespace sigtrain::config
