// remove_tree: the checkpoint rotation's and the caches' folder deletion (common/remove_tree.h).
#include "common/remove_tree.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <system_error>

namespace fs = std::filesystem;
using sigtrain::remove_tree;

namespace {

fs::path fresh_dir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("sigtrain_remove_tree_" + name + "_" + std::to_string(::getpid()));
  std::error_code ec;
  fs::remove_all(d, ec);
  fs::create_directories(d);
  return d;
}

void write(const fs::path& p, const std::string& text) { std::ofstream(p) << text; }

}  // namespace

TEST(RemoveTree, RemovesANestedCheckpointLikeTreeAndCountsEntries) {
  const fs::path root = fresh_dir("nested");
  const fs::path ckpt = root / "checkpoints" / "step_00000020";
  fs::create_directories(ckpt / "sub" / "deeper");
  for (const char* f : {"model.pt", "optimizer.pt", "rng.pt", "state.json", "DONE"}) write(ckpt / f, f);
  write(ckpt / "sub" / "deeper" / "x", "x");
  write(root / "checkpoints" / "keep.txt", "keep");

  // 5 files + x + deeper + sub + the folder itself = 9 entries.
  EXPECT_EQ(remove_tree(ckpt.string()), 9u);
  EXPECT_FALSE(fs::exists(ckpt));
  EXPECT_TRUE(fs::exists(root / "checkpoints" / "keep.txt")) << "a sibling was removed";
  fs::remove_all(root);
}

TEST(RemoveTree, AMissingPathIsNotAnError) {
  const fs::path root = fresh_dir("missing");
  EXPECT_EQ(remove_tree((root / "never-created").string()), 0u);
  fs::remove_all(root);
}

TEST(RemoveTree, RemovesAPlainFile) {
  const fs::path root = fresh_dir("file");
  write(root / "f", "1");
  EXPECT_EQ(remove_tree((root / "f").string()), 1u);
  EXPECT_FALSE(fs::exists(root / "f"));
  fs::remove_all(root);
}

TEST(RemoveTree, RemovesLinksWithoutFollowingThem) {
  const fs::path root = fresh_dir("links");
  fs::create_directories(root / "outside");
  write(root / "outside" / "precious", "do not delete");
  fs::create_directories(root / "tree");
  fs::create_directory_symlink(root / "outside", root / "tree" / "dir_link");
  fs::create_symlink(root / "outside" / "precious", root / "tree" / "file_link");

  EXPECT_EQ(remove_tree((root / "tree").string()), 3u);
  EXPECT_FALSE(fs::exists(root / "tree"));
  EXPECT_TRUE(fs::exists(root / "outside" / "precious")) << "a link was followed";
  fs::remove_all(root);
}

TEST(RemoveTree, AnEntryThatCannotBeRemovedIsNamedInTheError) {
  // procfs refuses every unlink, root's included: a failure that does not depend on who runs the test.
  const std::string entry = "/proc/self/comm";
  try {
    remove_tree(entry);
    ADD_FAILURE() << "expected std::system_error";
  } catch (const std::system_error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot remove " + entry), std::string::npos) << e.what();
  }
}
