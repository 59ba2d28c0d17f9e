#pragma once
// Gene vocabulary: gene name -> token id, with the special tokens first:
//   0 = <pad>, 1 = <cls>, 2 = <mask>, genes from 3 on in the order given.
// Saved with a run as JSON so a trained model can be applied to another dataset by gene name:
//   {"format": "sigtrain-gene-vocab", "version": 1, "special": ["<pad>", "<cls>", "<mask>"], "genes": [...]}
// Mapping a dataset's genes onto a vocabulary drops (and counts) genes the vocabulary does not know and repeated
// names (the second and later columns with the same name).
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace sigtrain::singlecell {

class GeneVocab {
 public:
  static constexpr int32_t kPad = 0;
  static constexpr int32_t kCls = 1;
  static constexpr int32_t kMask = 2;
  static constexpr int32_t kFirstGene = 3;

  GeneVocab() = default;
  // Genes in order; repeated names keep their first occurrence.
  static GeneVocab from_genes(const std::vector<std::string>& genes);
  static GeneVocab load(const std::string& path);  // std::runtime_error naming the file on a bad file
  static GeneVocab from_json_text(const std::string& text, const std::string& origin);
  void save(const std::string& path) const;          // atomic write
  std::string to_json_text() const;

  int32_t size() const { return kFirstGene + static_cast<int32_t>(genes_.size()); }  // specials included
  int32_t n_genes() const { return static_cast<int32_t>(genes_.size()); }
  int32_t id(const std::string& gene) const;          // -1 when unknown
  std::string token(int32_t id) const;                // "<pad>", "<cls>", "<mask>" or the gene name
  const std::vector<std::string>& genes() const { return genes_; }

  struct Mapping {
    std::vector<int32_t> token_of_column;  // per dataset gene column: token id, or -1 (dropped)
    int64_t n_mapped = 0;
    int64_t n_unknown = 0;    // names not in the vocabulary
    int64_t n_duplicate = 0;  // repeated names in the dataset
    std::vector<std::string> unknown_examples;  // first few unknown names, for messages
  };
  // `keep` (optional, same length): columns with keep[c] == false are dropped without being counted as unknown.
  Mapping map_columns(const std::vector<std::string>& dataset_genes, const std::vector<bool>* keep = nullptr) const;

 private:
  std::vector<std::string> genes_;
  std::unordered_map<std::string, int32_t> index_;
};

}  // namespace sigtrain::singlecell
