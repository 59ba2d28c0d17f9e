#include "data/singlecell/anndata_dataframe.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace sigtrain::singlecell {

std::string number_to_label(double v) {
  if (std::isnan(v)) return "nan";
  char buf[64];
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    std::snprintf(buf, sizeof(buf), "%lld", static_cast<long long>(v));
  } else {
    std::snprintf(buf, sizeof(buf), "%.9g", v);
  }
  return buf;
}

AnnDataFrame::AnnDataFrame(const h5::File* file, std::string path) : file_(file), path_(std::move(path)) {
  const auto kind = file_->kind(path_);
  if (kind == h5::ObjectKind::kNone) file_->fail(path_, "expected a dataframe group, found nothing");
  if (kind == h5::ObjectKind::kDataset) {
    const auto info = file_->dataset_info(path_);
    if (info.type.type_class != H5T_COMPOUND) {
      file_->fail(path_, "expected a dataframe (group, or compound dataset), got a " + info.type.name() + " dataset");
    }
    compound_ = true;
    index_name_ = "index";
    for (const auto& m : info.compound_members) {
      if (m != index_name_) columns_.push_back(m);
    }
    return;
  }
  index_name_ = file_->attr_string(path_, "_index").value_or("_index");
  if (file_->has_attr(path_, "column-order")) {
    columns_ = file_->attr_strings(path_, "column-order");
  } else {
    for (const auto& c : file_->children(path_)) {
      if (c != index_name_ && c != "__categories") columns_.push_back(c);
    }
  }
}

int64_t AnnDataFrame::n_rows() const {
  if (compound_) return file_->dataset_info(path_).length();
  const std::string idx = path_ + "/" + index_name_;
  if (!file_->is_dataset(idx)) file_->fail(idx, "expected the dataframe index dataset (attribute _index)");
  return file_->dataset_info(idx).length();
}

std::vector<std::string> AnnDataFrame::index() const {
  if (compound_) return file_->read_member_strings(path_, index_name_);
  const std::string idx = path_ + "/" + index_name_;
  if (!file_->is_dataset(idx)) file_->fail(idx, "expected the dataframe index dataset (attribute _index)");
  const auto info = file_->dataset_info(idx);
  if (info.type.type_class == H5T_STRING) return file_->read_strings(idx);
  std::vector<std::string> out;
  for (double v : file_->read_all<double>(idx)) out.push_back(number_to_label(v));
  return out;
}

bool AnnDataFrame::has_column(const std::string& name) const {
  return std::find(columns_.begin(), columns_.end(), name) != columns_.end();
}

void AnnDataFrame::missing_column(const std::string& name) const {
  std::string list;
  for (const auto& c : columns_) list += (list.empty() ? "" : ", ") + c;
  file_->fail(path_, "no column '" + name + "' (columns: " + (list.empty() ? "none" : list) + ")");
}

ColumnInfo AnnDataFrame::column_info(const std::string& name) const {
  if (!has_column(name)) missing_column(name);
  ColumnInfo ci;
  ci.name = name;
  if (compound_) {
    const auto t = file_->member_type(path_, name);
    const std::string cats = "/uns/" + name + "_categories";
    if (t.type_class == H5T_INTEGER && file_->is_dataset(cats)) {
      ci.type = "categorical";
      ci.n_categories = file_->dataset_info(cats).length();
    } else {
      ci.type = t.name();
    }
    return ci;
  }
  const std::string p = column_path(name);
  const auto kind = file_->kind(p);
  if (kind == h5::ObjectKind::kGroup) {
    const std::string enc = file_->attr_string(p, "encoding-type").value_or("");
    if (enc == "categorical") {
      ci.type = "categorical";
      ci.n_categories = file_->dataset_info(p + "/categories").length();
    } else {
      ci.type = enc.empty() ? "group" : enc;
    }
    return ci;
  }
  if (kind != h5::ObjectKind::kDataset) file_->fail(p, "column listed in column-order is missing");
  if (file_->has_attr(p, "categories") && file_->attr_type(p, "categories").type_class == H5T_REFERENCE) {
    ci.type = "categorical";
    ci.n_categories = file_->dataset_info(file_->attr_reference_path(p, "categories")).length();
    return ci;
  }
  ci.type = file_->dataset_info(p).type.name();
  return ci;
}

std::vector<ColumnInfo> AnnDataFrame::columns_info() const {
  std::vector<ColumnInfo> out;
  for (const auto& c : columns_) out.push_back(column_info(c));
  return out;
}

std::vector<std::string> AnnDataFrame::categorical_strings(const std::vector<double>& codes,
                                                           const std::string& categories_path,
                                                           const std::string& where) const {
  const std::vector<std::string> cats = dataset_strings(categories_path);
  std::vector<std::string> out;
  out.reserve(codes.size());
  for (size_t i = 0; i < codes.size(); ++i) {
    const double c = codes[i];
    if (c < 0) {
      out.emplace_back();
      continue;
    }
    if (c >= static_cast<double>(cats.size())) {
      file_->fail(where, "category code " + number_to_label(c) + " at row " + std::to_string(i) + " is outside the " +
                             std::to_string(cats.size()) + " categories of " + categories_path);
    }
    out.push_back(cats[static_cast<size_t>(c)]);
  }
  return out;
}

std::vector<std::string> AnnDataFrame::dataset_strings(const std::string& dset) const {
  const auto info = file_->dataset_info(dset);
  if (info.type.type_class == H5T_STRING) return file_->read_strings(dset);
  std::vector<std::string> out;
  const bool is_bool = info.type.type_class == H5T_ENUM && info.type.size == 1;
  for (double v : file_->read_all<double>(dset)) out.push_back(is_bool ? (v != 0 ? "true" : "false") : number_to_label(v));
  return out;
}

std::vector<std::string> AnnDataFrame::column_strings(const std::string& name) const {
  if (!has_column(name)) missing_column(name);
  if (compound_) {
    const auto t = file_->member_type(path_, name);
    if (t.type_class == H5T_STRING) return file_->read_member_strings(path_, name);
    const auto values = file_->read_member_numeric(path_, name);
    const std::string cats = "/uns/" + name + "_categories";
    if (t.type_class == H5T_INTEGER && file_->is_dataset(cats)) return categorical_strings(values, cats, path_ + "." + name);
    std::vector<std::string> out;
    const bool is_bool = t.type_class == H5T_ENUM && t.size == 1;
    for (double v : values) out.push_back(is_bool ? (v != 0 ? "true" : "false") : number_to_label(v));
    return out;
  }
  const std::string p = column_path(name);
  if (file_->is_group(p)) {
    const std::string enc = file_->attr_string(p, "encoding-type").value_or("");
    if (enc == "categorical") {
      return categorical_strings(file_->read_all<double>(p + "/codes"), p + "/categories", p + "/codes");
    }
    if (enc.rfind("nullable-", 0) == 0) {
      auto values = dataset_strings(p + "/values");
      const auto mask = file_->read_all<double>(p + "/mask");
      if (mask.size() != values.size()) file_->fail(p + "/mask", "expected the length of values");
      for (size_t i = 0; i < values.size(); ++i) {
        if (mask[i] != 0) values[i].clear();
      }
      return values;
    }
    file_->fail(p, "unsupported column encoding '" + enc + "' (expected categorical, nullable-* or a dataset)");
  }
  if (file_->has_attr(p, "categories") && file_->attr_type(p, "categories").type_class == H5T_REFERENCE) {
    return categorical_strings(file_->read_all<double>(p), file_->attr_reference_path(p, "categories"), p);
  }
  return dataset_strings(p);
}

}  // namespace sigtrain::singlecell
