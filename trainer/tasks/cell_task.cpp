#include "trainer/tasks/cell_task.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <sstream>

#include "common/atomic_file.h"
#include "common/splitmix64.h"
#include "data/fnv1a.h"
#include "data/lm_sampler.h"
#include "data/singlecell/embedding_metrics.h"
#include "data/singlecell/gene_vocab.h"
#include "models/cross_entropy.h"
#include "models/encoder.h"
#include "trainer/loop/run_config.h"

namespace sigtrain::trainer {

namespace fs = std::filesystem;
using singlecell::GeneVocab;

namespace {

// Validation masks use this seed whatever the run seed is, so every run scores the same masked positions.
constexpr uint64_t kValidationSeed = 0x63656c6c2d76616cull;  // "cell-val"

}  // namespace

TaskDefinition cell_task_definition() {
  TaskDefinition d;
  d.name = "singlecell";
  d.description = "masked-expression pretraining on single cells (a `singlecell` section, model.arch: encoder)";
  d.claims = [](const config::ConfigTree& tree, const models::ModelConfig&) {
    return tree.root().find("singlecell") != nullptr;
  };
  d.parse = [](config::ConfigTree& tree, const models::ModelConfig& model) -> std::shared_ptr<const TaskConfig> {
    if (tree.root().find("data") != nullptr)
      throw config::ConfigError("data: a single-cell run (section singlecell) reads no LM corpus; remove the data "
                                "section (the cells come from singlecell.path)");
    config::SectionReader sc(tree, "singlecell");
    auto c = std::make_shared<CellTaskConfig>();
    SingleCellRunConfig& s = c->singlecell;
    s.data = singlecell::parse_singlecell_config(sc);
    const singlecell::SingleCellDataConfig defaults;  // (the resolved config of a run records the defaults)
    if (s.data.batch_size != defaults.batch_size || s.data.max_tokens_per_batch != defaults.max_tokens_per_batch)
      sc.fail(s.data.batch_size != defaults.batch_size ? "batch_size" : "max_tokens_per_batch",
              "a training run batches train.micro_batch_size cells per micro-batch and "
              "train.global_batch_tokens / max_len cells per step; remove this key");
    s.pooling = sc.get_enum("pooling", s.pooling, {"cls", "mean"});
    CellTask::check_model(s, model);
    return c;
  };
  d.check_inputs = [](const RunConfig& cfg) {
    require_path("singlecell.path", cfg.task_as<CellTaskConfig>().singlecell.data.path, /*folder=*/false);
  };
  d.make = [](const RunConfig& cfg) -> std::unique_ptr<Task> {
    return std::make_unique<CellTask>(cfg.task_as<CellTaskConfig>().singlecell, cfg.model, cfg.train.seed,
                                      cfg.train.micro_batch_size, cfg.eval.tokens, cfg.eval.batch_size);
  };
  d.resume_must_match = {"singlecell"};
  d.report_metrics = {{"knn_accuracy", "kNN acc", true}, {"asw", "ASW", true}};
  return d;
}

void CellTask::check_model(const SingleCellRunConfig& cfg, const models::ModelConfig& model) {
  const bool scgpt =
      singlecell::parse_tokenization_kind(cfg.data.tokenization) == singlecell::TokenizationKind::kScGPT;
  if (model.arch != models::Arch::kEncoder)
    throw config::ConfigError("model.arch: a single-cell run (section singlecell) trains the bidirectional encoder; "
                              "set arch: encoder");
  if (scgpt && !model.value_input)
    throw config::ConfigError("model.value_input: singlecell.tokenization: scgpt feeds expression bins as values; "
                              "set value_input: true");
  if (!scgpt && model.value_input)
    throw config::ConfigError("model.value_input: singlecell.tokenization: geneformer predicts masked gene tokens "
                              "from ranks alone; set value_input: false");
  if (cfg.data.mask_fraction <= 0)
    throw config::ConfigError("singlecell.mask_fraction: the masked-expression objective needs a fraction > 0");
}

CellTask::CellTask(const SingleCellRunConfig& cfg, const models::ModelConfig& model, uint64_t seed,
                   int64_t micro_batch, int64_t val_tokens, int64_t eval_batch)
    : cfg_(cfg), eval_batch_(std::max<int64_t>(1, eval_batch)), val_tokens_(val_tokens),
      micro_batch_(std::max<int64_t>(1, micro_batch)) {
  check_model(cfg_, model);
  const auto& d = cfg_.data;
  scgpt_ = singlecell::parse_tokenization_kind(d.tokenization) == singlecell::TokenizationKind::kScGPT;
  n_bins_ = d.n_bins;

  ds_ = singlecell::SingleCellDataset::prepare(d);
  // Tokenisation is deterministic per cell (bins and any max_len sampling are seeded by the cell), so a small
  // dataset is tokenised once and batches are cut from memory; the masks are drawn per batch either way.
  if (ds_->summary().total_tokens <= kCacheTokens) cache_ = ds_->tokenize_all();
  order_seed_ = splitmix64(splitmix64(seed) ^ (d.seed * 0x9E3779B97F4A7C15ull));
  vocab_digest_ = [&] {
    data::Fnv1a64 h;
    const std::string text = ds_->vocab().to_json_text();
    h.update(text.data(), text.size());
    return data::hex64(h.digest());
  }();

  const singlecell::CellSplit split = ds_->split();
  train_cells_ = split.train;
  if (train_cells_.empty()) throw config::ConfigError("singlecell.val_fraction: no training cells left");
  // The fixed validation set: a seeded shuffle of the held-out cells, cut at eval.tokens real tokens (at least one
  // cell), then ordered by length (ties: row) so eval batches pad little.
  if (split.val.empty())
    throw config::ConfigError("singlecell.val_fraction: no held-out cells (" + std::to_string(ds_->n_cells()) +
                              " cells); the validation loss and the embedding metrics need some");
  std::vector<int64_t> val = split.val;
  val_all_ = static_cast<int64_t>(val.size());
  uint64_t s = kValidationSeed ^ d.seed;
  for (size_t i = val.size(); i > 1; --i) std::swap(val[i - 1], val[splitmix64(s++) % i]);
  const auto& lengths = ds_->lengths();
  int64_t budget = 0;
  for (int64_t c : val) {
    if (!val_cells_.empty() && budget + lengths[c] > val_tokens_) break;
    budget += lengths[c];
    val_cells_.push_back(c);
  }
  std::sort(val_cells_.begin(), val_cells_.end(), [&](int64_t a, int64_t b) {
    return lengths[a] != lengths[b] ? lengths[a] < lengths[b] : a < b;
  });

  // Baseline: the held-out cells as the model receives them, one dense vector per cell over the vocabulary (the
  // token's value: scGPT bin, Geneformer score; 0 for genes not in the cell), scored like the embeddings.
  std::vector<int64_t> labelled;
  std::vector<int32_t> labels;
  for (int64_t c : val_cells_) {
    const int32_t l = ds_->labels().empty() ? -1 : ds_->labels()[static_cast<size_t>(c)];
    if (l >= 0) labelled.push_back(c), labels.push_back(l);
  }
  const int64_t V = ds_->vocab().size();
  std::vector<int32_t> distinct = labels;
  std::sort(distinct.begin(), distinct.end());
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  if (distinct.size() >= 2 && labelled.size() >= 3 && static_cast<int64_t>(labelled.size()) * V <= (int64_t{1} << 26)) {
    std::vector<float> x(labelled.size() * static_cast<size_t>(V), 0.0f);
    auto cells = tokens_of(labelled);
    for (size_t i = 0; i < cells.size(); ++i)
      for (size_t t = 1; t < cells[i].genes.size(); ++t)
        x[i * static_cast<size_t>(V) + static_cast<size_t>(cells[i].genes[t])] = cells[i].values[t];
    const auto sc = singlecell::score_embeddings(x, V, labels, static_cast<int>(d.knn_k));
    input_scores_ = {{"input_asw", sc.asw}, {"input_cohesion", sc.cohesion.ratio},
                     {"input_knn_accuracy", sc.knn_accuracy}};
  }
}

int64_t CellTask::vocab_size() const { return ds_->vocab().size() + (scgpt_ ? n_bins_ : 0); }

std::string CellTask::describe() const {
  const auto& d = cfg_.data;
  std::ostringstream os;
  os << "masked expression (" << d.tokenization << ", " << d.mask_fraction << " of genes masked, "
     << (scgpt_ ? std::to_string(n_bins_) + " value bins predicted" : std::string("gene tokens predicted"))
     << ", " << cfg_.pooling << " pooling) on " << d.path << ": " << ds_->summary().to_text() << "; "
     << train_cells_.size() << " train / " << val_cells_.size() << " validation cells (of " << val_all_
     << " held out), vocabulary " << ds_->vocab().size() << " tokens"
     << (cache_.empty() ? ", tokens read on demand" : ", tokens held in memory");
  if (!d.label_column.empty()) os << ", " << ds_->label_names().size() << " labels in '" << d.label_column << "'";
  return os.str();
}

const singlecell::BatchPlan& CellTask::epoch_plan(int64_t epoch) {
  if (epoch != plan_epoch_) {
    singlecell::BucketOptions o;
    o.boundaries = cfg_.data.bucket_boundaries;
    o.batch_size = micro_batch_;
    o.max_tokens_per_batch = 0;
    o.shuffle = true;
    o.drop_last = false;
    o.seed = order_seed_;
    o.pad_to_multiple = cfg_.data.pad_to_multiple;
    o.max_width = cfg_.data.max_len;
    plan_ = singlecell::plan_length_buckets(ds_->lengths(), train_cells_, o, static_cast<uint64_t>(epoch));
    plan_epoch_ = epoch;
  }
  return plan_;
}

std::vector<singlecell::TokenizedCell> CellTask::tokens_of(const std::vector<int64_t>& cells) const {
  if (cache_.empty()) return ds_->tokenize_cells(cells);
  std::vector<singlecell::TokenizedCell> out;
  out.reserve(cells.size());
  for (int64_t c : cells) out.push_back(cache_[static_cast<size_t>(c)]);
  return out;
}

Batch CellTask::to_batch(const singlecell::PaddedBatch& pb, const torch::Device& device) const {
  const int64_t B = pb.batch, T = pb.max_len;
  auto i32 = torch::TensorOptions().dtype(torch::kInt32);
  auto tokens = torch::from_blob(const_cast<int32_t*>(pb.genes.data()), {B, T}, i32).to(torch::kInt64);
  auto lengths = torch::from_blob(const_cast<int32_t*>(pb.lengths.data()), {B}, i32).clone();
  torch::Tensor mask = pb.mask.empty()
                           ? torch::zeros({B, T}, torch::kBool)
                           : torch::from_blob(const_cast<uint8_t*>(pb.mask.data()), {B, T}, torch::kUInt8)
                                 .to(torch::kBool);
  auto ignore = torch::full({B, T}, kIgnoreTarget, torch::kInt64);
  Batch batch;
  if (scgpt_) {
    auto bins = torch::from_blob(const_cast<float*>(pb.values.data()), {B, T}, torch::kFloat32).clone();
    auto values = bins / static_cast<float>(n_bins_ - 1);
    values.masked_fill_(mask, kMaskedValue);
    batch.targets = torch::where(mask, bins.round().to(torch::kInt64), ignore);
    batch.inputs.values = upload(values, device);
  } else {
    batch.targets = torch::where(mask, tokens, ignore);
    tokens = tokens.masked_fill(mask, GeneVocab::kMask);
  }
  batch.inputs.tokens = upload(tokens, device);
  batch.inputs.lengths = upload(lengths, device);
  batch.targets = upload(batch.targets, device);
  return batch;
}

Batch CellTask::train_batch(int64_t seqs_per_step, int rank, int world, int64_t micro, int64_t micro_batch,
                            const torch::Device& device) {
  if (micro_batch != micro_batch_)
    throw std::runtime_error("CellTask: micro-batch of " + std::to_string(micro_batch) + " cells, constructed for " +
                             std::to_string(micro_batch_));
  const data::RankSlice slice = data::rank_slice(seqs_per_step, rank, world);
  const int64_t first = position_ + slice.offset + micro * micro_batch;  // a multiple of micro_batch
  const int64_t g = first / micro_batch;
  // The number of batches per epoch does not depend on the epoch (bucket sizes are fixed; only the order changes).
  const auto per_epoch = static_cast<int64_t>(epoch_plan(plan_epoch_ < 0 ? 0 : plan_epoch_).batches.size());
  const int64_t epoch = g / per_epoch, index = g % per_epoch;
  const auto& plan = epoch_plan(epoch);
  const auto& cells = plan.batches[static_cast<size_t>(index)].cells;
  auto pb = singlecell::make_padded_batch(tokens_of(cells), ds_->labels(), cfg_.data.mask_fraction,
                                          order_seed_, static_cast<uint64_t>(epoch), cfg_.data.pad_to_multiple,
                                          cfg_.data.max_len);
  return to_batch(pb, device);
}

Batch CellTask::val_batch(int64_t first, int64_t count, const torch::Device& device) {
  std::vector<int64_t> cells(val_cells_.begin() + first, val_cells_.begin() + first + count);
  auto pb = singlecell::make_padded_batch(tokens_of(cells), ds_->labels(), cfg_.data.mask_fraction,
                                          kValidationSeed, 0, cfg_.data.pad_to_multiple, cfg_.data.max_len);
  return to_batch(pb, device);
}

std::pair<torch::Tensor, torch::Tensor> CellTask::loss_sum(models::Model& model, const Batch& batch) {
  if (!scgpt_) return Task::loss_sum(model, batch);  // masked gene tokens over the vocabulary
  // Value bins: hidden states × the n_bins head rows after the gene vocabulary (tied: the embedding matrix).
  auto params = model.named_parameters(/*recurse=*/true);
  const torch::Tensor* head = params.find("head.weight");
  if (head == nullptr) head = params.find("tok_embed.weight");
  TORCH_CHECK(head != nullptr, "CellTask: the model has neither head.weight nor tok_embed.weight");
  const int64_t offset = ds_->vocab().size();
  TORCH_CHECK(head->size(0) >= offset + n_bins_, "CellTask: the output head has ", head->size(0),
              " rows; the value bins need ", offset + n_bins_, " (model.vocab_size: 0 takes it from the task)");
  auto h = model.hidden(batch.inputs);                          // [B, T, d]
  auto w = head->narrow(0, offset, n_bins_);                    // [n_bins, d]
  auto logits = torch::matmul(h, w.to(h.scalar_type()).t());    // [B, T, n_bins]
  auto sum = models::cross_entropy_sum(logits, batch.targets, kIgnoreTarget, fused_ops_.cross_entropy);
  return {sum, (batch.targets != kIgnoreTarget).sum()};
}

torch::Tensor CellTask::cell_embeddings(models::Model& model, const std::vector<int64_t>& cells,
                                        const torch::Device& device) {
  auto* encoder = dynamic_cast<models::Encoder*>(&model);
  TORCH_CHECK(encoder != nullptr, "CellTask: cell embeddings need the encoder (model.arch: encoder)");
  const models::Pooling pooling = cfg_.pooling == "cls" ? models::Pooling::kCls : models::Pooling::kMean;
  std::vector<torch::Tensor> out;
  for (size_t i = 0; i < cells.size(); i += static_cast<size_t>(eval_batch_)) {
    const size_t j = std::min(cells.size(), i + static_cast<size_t>(eval_batch_));
    std::vector<int64_t> chunk(cells.begin() + static_cast<std::ptrdiff_t>(i),
                               cells.begin() + static_cast<std::ptrdiff_t>(j));
    auto pb = singlecell::make_padded_batch(tokens_of(chunk), ds_->labels(), 0.0, 0, 0);  // unmasked
    Batch b = to_batch(pb, device);
    out.push_back(encoder->pooled(b.inputs, pooling).to(torch::kCPU, torch::kFloat32));
  }
  if (out.empty()) return torch::zeros({0, model.config().d_model});
  return torch::cat(out).contiguous();
}

nlohmann::json CellTask::evaluate_extra(models::Model& model, const torch::Device& device) {
  nlohmann::json r = nlohmann::json::object();
  // Padding: this epoch's training plan, and the length-ordered validation batches.
  {
    // The epoch of the stream position (batches per epoch do not depend on the epoch).
    const auto per_epoch = static_cast<int64_t>(epoch_plan(plan_epoch_ < 0 ? 0 : plan_epoch_).batches.size());
    const int64_t epoch = position_ / micro_batch_ / std::max<int64_t>(1, per_epoch);
    const auto& plan = epoch_plan(epoch);
    r["padding_fraction"] = plan.padding_fraction();
    const int64_t max_len = cfg_.data.max_len;
    const double slots = static_cast<double>(plan.batches.size()) * static_cast<double>(micro_batch_ * max_len);
    r["train_token_fraction"] = slots > 0 ? static_cast<double>(plan.tokens) / slots : 0.0;
    r["epoch"] = epoch;
  }
  {
    int64_t tokens = 0, slots = 0;
    const auto& lengths = ds_->lengths();
    for (size_t i = 0; i < val_cells_.size(); i += static_cast<size_t>(eval_batch_)) {
      const size_t j = std::min(val_cells_.size(), i + static_cast<size_t>(eval_batch_));
      int64_t longest = 0;
      for (size_t k = i; k < j; ++k) {
        tokens += lengths[val_cells_[k]];
        longest = std::max(longest, lengths[val_cells_[k]]);
      }
      slots += singlecell::padded_width(longest, cfg_.data.pad_to_multiple, cfg_.data.max_len) *
               static_cast<int64_t>(j - i);
    }
    r["val_padding_fraction"] = slots > 0 ? 1.0 - static_cast<double>(tokens) / static_cast<double>(slots) : 0.0;
  }
  // Cell embeddings of the held-out cells scored by their labels.
  std::vector<int32_t> labels;
  std::vector<int64_t> cells;
  for (int64_t c : val_cells_) {
    const int32_t l = ds_->labels().empty() ? -1 : ds_->labels()[static_cast<size_t>(c)];
    if (l >= 0) {
      cells.push_back(c);
      labels.push_back(l);
    }
  }
  std::vector<int32_t> distinct = labels;
  std::sort(distinct.begin(), distinct.end());
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  if (distinct.size() < 2 || cells.size() < 3) {
    r["embed_cells"] = static_cast<int64_t>(cells.size());
    return r;  // no labels (label_column unset) or too few to score
  }
  torch::Tensor x = cell_embeddings(model, cells, device);
  if (!torch::isfinite(x).all().item<bool>()) {
    r["embed_cells"] = static_cast<int64_t>(cells.size());
    r["embed_nonfinite"] = true;
    return r;
  }
  const int k = static_cast<int>(cfg_.data.knn_k);
  std::vector<float> flat(x.data_ptr<float>(), x.data_ptr<float>() + x.numel());
  const auto s = singlecell::score_embeddings(flat, x.size(1), labels, k);
  r["asw"] = s.asw;
  r["cohesion"] = s.cohesion.ratio;
  r["cohesion_intra"] = s.cohesion.mean_intra;
  r["cohesion_inter"] = s.cohesion.mean_inter;
  r["knn_accuracy"] = s.knn_accuracy;
  r["embed_cells"] = s.n;
  r["embed_labels"] = s.n_labels;
  // The same on centred embeddings (the mean over the scored cells subtracted): hidden states of a transformer
  // share a dominant direction, which can push every cosine distance towards 0 and hide the structure.
  torch::Tensor xc = (x.to(torch::kFloat64) - x.to(torch::kFloat64).mean(0, true)).to(torch::kFloat32).contiguous();
  std::vector<float> centred(xc.data_ptr<float>(), xc.data_ptr<float>() + xc.numel());
  const auto c = singlecell::score_embeddings(centred, xc.size(1), labels, k);
  r.update(input_scores_);
  r["asw_centered"] = c.asw;
  r["cohesion_centered"] = c.cohesion.ratio;
  r["knn_accuracy_centered"] = c.knn_accuracy;
  return r;
}

void CellTask::write_run_files(const std::string& run_dir) {
  ds_->vocab().save((fs::path(run_dir) / "gene_vocab.json").string());
  const auto& sm = ds_->summary();
  nlohmann::json info = {{"path", cfg_.data.path},
                         {"tokenization", cfg_.data.tokenization},
                         {"n_cells", sm.n_cells},
                         {"n_genes_in_file", sm.n_genes_in_file},
                         {"n_genes_selected", sm.n_genes_selected},
                         {"n_genes_mapped", sm.n_genes_mapped},
                         {"n_cells_empty", sm.n_cells_empty},
                         {"mean_length", sm.mean_length},
                         {"max_length", sm.max_length},
                         {"train_cells", train_cells_.size()},
                         {"val_cells", val_cells_.size()},
                         {"held_out_cells", val_all_},
                         {"label_column", cfg_.data.label_column},
                         {"label_names", ds_->label_names()},
                         {"vocab_size", ds_->vocab().size()},
                         {"vocab_digest", vocab_digest_}};
  write_file_atomic((fs::path(run_dir) / "singlecell.json").string(), info.dump(2) + "\n");
}

nlohmann::json CellTask::state() const {
  return {{"objective", "masked_expression"},
          {"position", position_},
          {"micro_batch", micro_batch_},
          {"n_cells", ds_->n_cells()},
          {"train_cells", static_cast<int64_t>(train_cells_.size())},
          {"vocab_digest", vocab_digest_},
          {"tokenization", cfg_.data.tokenization}};
}

void CellTask::restore(const nlohmann::json& state) {
  if (state.value("objective", std::string("lm")) != "masked_expression")
    throw std::runtime_error("checkpoint was written by another training objective than the masked-expression task");
  if (state.at("vocab_digest").get<std::string>() != vocab_digest_ ||
      state.at("n_cells").get<int64_t>() != ds_->n_cells() ||
      state.at("train_cells").get<int64_t>() != static_cast<int64_t>(train_cells_.size()) ||
      state.at("tokenization").get<std::string>() != cfg_.data.tokenization)
    throw std::runtime_error("checkpoint was written on other single-cell data (cells, split, gene vocabulary or "
                             "tokenisation differ)");
  if (state.at("micro_batch").get<int64_t>() != micro_batch_)
    throw std::runtime_error("checkpoint was written with train.micro_batch_size " +
                             state.at("micro_batch").dump() + ", this run's is " + std::to_string(micro_batch_));
  position_ = state.at("position").get<int64_t>();
}

}  // namespace sigtrain::trainer
