#include "common/config.h"
#include "tests/error_of.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

using sigtrain::config::ConfigError;
using sigtrain::config::config_file_is_empty;
using sigtrain::config::ConfigTree;
using sigtrain::config::SectionReader;

namespace {

class TempDir {
 public:
  TempDir() {
    path_ = std::filesystem::temp_directory_path() /
            ("sigtrain_cfg_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string write(const std::string& name, const std::string& text) {
    auto p = path_ / name;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p) << text;
    return p.string();
  }

 private:
  std::filesystem::path path_;
};

std::string error_of(const std::function<void()>& f) { return sigtrain::testing::error_of<ConfigError>(f); }

}  // namespace

TEST(Config, BaseInheritanceOverridesAndSet) {
  TempDir dir;
  dir.write("base.yaml", "model:\n  n_layer: 2\n  d_model: 64\noptim:\n  lr: 0.001\n");
  std::string child = dir.write("sub/child.yaml", "base: ../base.yaml\nmodel:\n  n_layer: 4\n");
  std::string extra = dir.write("extra.yaml", "optim:\n  lr: 0.01\n");
  auto tree = ConfigTree::load({child, extra}, {"model.d_model=128"});
  SectionReader model(tree, "model");
  EXPECT_EQ(model.get_int("n_layer", 1), 4);      // child overrides base
  EXPECT_EQ(model.get_int("d_model", 1), 128);    // --set overrides files
  EXPECT_EQ(model.get_int("n_head", 8), 8);       // default
  SectionReader optim(tree, "optim");
  EXPECT_DOUBLE_EQ(optim.get_double("lr", 0), 0.01);  // later file overrides earlier
  tree.check_all_consumed();
  std::string resolved = tree.resolved_yaml();
  EXPECT_NE(resolved.find("n_head: 8"), std::string::npos) << resolved;
  EXPECT_NE(resolved.find("d_model: 128"), std::string::npos) << resolved;
}

TEST(Config, ErrorsNameFileLineKeyAndExpectation) {
  TempDir dir;
  std::string f = dir.write("bad.yaml", "model:\n  n_layer: abc\n  d_model: -3\n  norm: batchnorm\n");
  auto tree = ConfigTree::load({f}, {});
  SectionReader model(tree, "model");
  std::string e1 = error_of([&] { model.get_int("n_layer", 1); });
  EXPECT_NE(e1.find(f + ":2: model.n_layer: expected an integer, got 'abc'"), std::string::npos) << e1;
  std::string e2 = error_of([&] { model.get_int("d_model", 1, 1); });
  EXPECT_NE(e2.find(f + ":3: model.d_model: expected an integer >= 1, got -3"), std::string::npos) << e2;
  std::string e3 = error_of([&] { model.get_enum("norm", "layernorm", {"layernorm", "rmsnorm"}); });
  EXPECT_NE(e3.find(":4: model.norm: expected one of layernorm | rmsnorm, got 'batchnorm'"), std::string::npos) << e3;
}

TEST(Config, UnknownKeyIsAnErrorWithSuggestion) {
  TempDir dir;
  std::string f = dir.write("c.yaml", "model:\n  n_layer: 2\n  n_layr: 3\nbogus_section:\n  x: 1\n");
  auto tree = ConfigTree::load({f}, {});
  SectionReader model(tree, "model");
  model.get_int("n_layer", 1);
  std::string e = error_of([&] { tree.check_all_consumed(); });
  EXPECT_NE(e.find(f + ":3: model.n_layr: unknown key (did you mean `model.n_layer`?)"), std::string::npos) << e;

  auto tree2 = ConfigTree::load({f}, {"model.n_layr=1"});
  SectionReader m2(tree2, "model");
  m2.get_int("n_layer", 1);
  m2.get_int("n_layr", 1);
  std::string e2 = error_of([&] { tree2.check_all_consumed(); });
  EXPECT_NE(e2.find("c.yaml:4: bogus_section: unknown section; known sections: model"), std::string::npos) << e2;
}

TEST(Config, OptionalNullsNumbersOrWordsAndTypes) {
  auto tree = ConfigTree::from_string(
      "optim:\n  clip: null\n  wd: 0.1\nattention:\n  bias: -log_n\n  bias2: -7.5\n  flag: 3\n", "inline");
  SectionReader optim(tree, "optim");
  EXPECT_FALSE(optim.get_optional_double("clip", 1.0).has_value());
  EXPECT_DOUBLE_EQ(*optim.get_optional_double("wd", std::nullopt), 0.1);
  SectionReader attn(tree, "attention");
  double num = 0;
  EXPECT_EQ(attn.get_number_or_enum("bias", "-log_n", {"-log_n"}, &num), "-log_n");
  EXPECT_EQ(attn.get_number_or_enum("bias2", "-log_n", {"-log_n"}, &num), "-7.5");
  EXPECT_DOUBLE_EQ(num, -7.5);
  std::string e = error_of([&] { attn.get_bool("flag", false); });
  EXPECT_NE(e.find("inline:7: attention.flag: expected true or false, got '3'"), std::string::npos) << e;
}

TEST(Config, BadSetAndMissingBaseAndCycle) {
  TempDir dir;
  EXPECT_NE(error_of([] { ConfigTree::load({}, {"novalue"}); }).find("expected key.path=value"), std::string::npos);
  std::string f = dir.write("a.yaml", "base: missing.yaml\n");
  std::string e = error_of([&] { ConfigTree::load({f}, {}); });
  EXPECT_NE(e.find("missing.yaml: config file does not exist (named in `base:` of"), std::string::npos) << e;
  std::string a = dir.write("x.yaml", "base: y.yaml\n");
  dir.write("y.yaml", "base: x.yaml\n");
  EXPECT_NE(error_of([&] { ConfigTree::load({a}, {}); }).find("cycle"), std::string::npos);
  std::string bad = dir.write("bad.yaml", "model: [1, 2\n");
  EXPECT_NE(error_of([&] { ConfigTree::load({bad}, {}); }).find("invalid YAML"), std::string::npos);
}

TEST(Config, EmptyFileIsToldApart) {
  TempDir dir;
  EXPECT_TRUE(config_file_is_empty(dir.write("empty.yaml", "")));
  EXPECT_TRUE(config_file_is_empty(dir.write("comments.yaml", "# a comment\n\n  # another\n")));
  EXPECT_TRUE(config_file_is_empty(dir.write("braces.yaml", "{}\n")));
  EXPECT_FALSE(config_file_is_empty(dir.write("base_only.yaml", "base: other.yaml\n")));
  EXPECT_FALSE(config_file_is_empty(dir.write("one_key.yaml", "model:\n  n_layer: 2\n")));
  const std::string missing = dir.write("x.yaml", "") + ".missing";
  EXPECT_NE(error_of([&] { config_file_is_empty(missing); }).find(missing + ": config file does not exist"),
            std::string::npos);
  const std::string bad = dir.write("bad.yaml", "model: [1, 2\n");
  EXPECT_NE(error_of([&] { config_file_is_empty(bad); }).find("invalid YAML"), std::string::npos);
}

TEST(Config, SectionWithWrongShapeAndDuplicateKeys) {
  auto tree = ConfigTree::from_string("model: 3\n", "inline");
  EXPECT_NE(error_of([&] { SectionReader(tree, "model"); }).find("model: expected a section"), std::string::npos);
  EXPECT_NE(error_of([] { ConfigTree::from_string("a: 1\na: 2\n", "dup"); }).find("dup:2: a: duplicate key"),
            std::string::npos);
}

TEST(Config, DifferencesBetweenResolvedConfigs) {
  std::string a = "model:\n  n_layer: 4\n  d_model: 64\ntrain:\n  seed: 1\n  steps: 10\n";
  std::string b = "model:\n  n_layer: 6\n  d_model: 64\ntrain:\n  seed: 1\n  steps: 20\n";
  auto d = sigtrain::config::config_differences(a, b, {"model", "train.seed"});
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0], "model.n_layer: 4 -> 6");
  EXPECT_TRUE(sigtrain::config::config_differences(a, b, {"train.seed"}).empty());
}

TEST(Config, PathsResolveRelativeToTheirFile) {
  TempDir dir;
  std::string f = dir.write("sub/c.yaml", "data:\n  file: ../corpus.txt\n");
  auto tree = ConfigTree::load({f}, {});
  SectionReader data(tree, "data");
  std::string p = data.get_path("file", "");
  EXPECT_EQ(p, (std::filesystem::path(f).parent_path().parent_path() / "corpus.txt").string());
}
