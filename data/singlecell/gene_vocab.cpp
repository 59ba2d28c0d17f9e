#include "data/singlecell/gene_vocab.h"

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <unordered_set>

#include "common/atomic_file.h"

namespace sigtrain::singlecell {
namespace {
const char* const kSpecial[] = {"<pad>", "<cls>", "<mask>"};
}

GeneVocab GeneVocab::from_genes(const std::vector<std::string>& genes) {
  GeneVocab v;
  for (const auto& g : genes) {
    if (v.index_.count(g)) continue;
    v.index_.emplace(g, kFirstGene + static_cast<int32_t>(v.genes_.size()));
    v.genes_.push_back(g);
  }
  return v;
}

GeneVocab GeneVocab::from_json_text(const std::string& text, const std::string& origin) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    throw std::runtime_error(origin + ": not valid JSON: " + e.what());
  }
  if (!j.is_object() || j.value("format", "") != "sigtrain-gene-vocab") {
    throw std::runtime_error(origin + ": expected a gene vocabulary ({\"format\": \"sigtrain-gene-vocab\", ...})");
  }
  if (j.value("version", 0) != 1) throw std::runtime_error(origin + ": unsupported gene vocabulary version");
  const auto special = j.at("special");
  if (!special.is_array() || special.size() != 3 || special[0] != kSpecial[0] || special[1] != kSpecial[1] ||
      special[2] != kSpecial[2]) {
    throw std::runtime_error(origin + ": expected special tokens [\"<pad>\", \"<cls>\", \"<mask>\"]");
  }
  const auto genes = j.at("genes");
  if (!genes.is_array()) throw std::runtime_error(origin + ": 'genes' must be a list of names");
  GeneVocab v;
  for (const auto& g : genes) {
    if (!g.is_string()) throw std::runtime_error(origin + ": 'genes' must be a list of names");
    const std::string name = g.get<std::string>();
    if (v.index_.count(name)) throw std::runtime_error(origin + ": gene '" + name + "' appears twice");
    v.index_.emplace(name, kFirstGene + static_cast<int32_t>(v.genes_.size()));
    v.genes_.push_back(name);
  }
  return v;
}

GeneVocab GeneVocab::load(const std::string& path) { return from_json_text(read_file(path), path); }

std::string GeneVocab::to_json_text() const {
  nlohmann::json j;
  j["format"] = "sigtrain-gene-vocab";
  j["version"] = 1;
  j["special"] = {kSpecial[0], kSpecial[1], kSpecial[2]};
  j["genes"] = genes_;
  return j.dump(1) + "\n";
}

void GeneVocab::save(const std::string& path) const { write_file_atomic(path, to_json_text()); }

int32_t GeneVocab::id(const std::string& gene) const {
  auto it = index_.find(gene);
  return it == index_.end() ? -1 : it->second;
}

std::string GeneVocab::token(int32_t id) const {
  if (id >= 0 && id < kFirstGene) return kSpecial[id];
  if (id >= kFirstGene && id < size()) return genes_[id - kFirstGene];
  throw std::out_of_range("GeneVocab::token: id " + std::to_string(id) + " outside [0, " + std::to_string(size()) + ")");
}

GeneVocab::Mapping GeneVocab::map_columns(const std::vector<std::string>& dataset_genes,
                                          const std::vector<bool>* keep) const {
  Mapping m;
  m.token_of_column.assign(dataset_genes.size(), -1);
  std::unordered_set<std::string> seen;
  for (size_t c = 0; c < dataset_genes.size(); ++c) {
    if (keep && !(*keep)[c]) continue;
    const auto& g = dataset_genes[c];
    if (!seen.insert(g).second) {
      ++m.n_duplicate;
      continue;
    }
    const int32_t t = id(g);
    if (t < 0) {
      ++m.n_unknown;
      if (m.unknown_examples.size() < 5) m.unknown_examples.push_back(g);
      continue;
    }
    m.token_of_column[c] = t;
    ++m.n_mapped;
  }
  return m;
}

}  // namespace sigtrain::singlecell
