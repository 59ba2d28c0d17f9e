#pragma once
// Thin read-only wrapper over the HDF5 C API (libhdf5 >= 1.10) for the single-cell readers: RAII ids, typed 1-D and
// 2-D hyperslab reads with conversion to the requested native type, strings (variable or fixed length),
// attributes, object references and fields of compound datasets. Every failure throws FormatError naming the file,
// the HDF5 path and what was expected.
#include <hdf5.h>

#include <cstdint>
#include <optional>
#include <unordered_map>
#include <string>
#include <vector>

#include "data/singlecell/format_error.h"

namespace sigtrain::singlecell::h5 {

// Owns one hid_t and closes it with the matching H5*close.
class Id {
 public:
  using Closer = herr_t (*)(hid_t);
  Id() = default;
  Id(hid_t id, Closer closer) : id_(id), closer_(closer) {}
  Id(const Id&) = delete;
  Id& operator=(const Id&) = delete;
  Id(Id&& o) noexcept : id_(o.id_), closer_(o.closer_) { o.id_ = H5I_INVALID_HID; }
  Id& operator=(Id&& o) noexcept;
  ~Id();
  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }

 private:
  hid_t id_ = H5I_INVALID_HID;
  Closer closer_ = nullptr;
};

enum class ObjectKind { kNone, kGroup, kDataset, kOther };

// What a dataset (or compound member) holds.
struct TypeInfo {
  H5T_class_t type_class = H5T_NO_CLASS;
  size_t size = 0;
  bool is_signed = false;
  bool is_vlen_string = false;
  std::string name() const;  // "float32", "int64", "uint8", "string", "bool", "enum", "compound", "reference", ...
  bool is_numeric() const { return type_class == H5T_INTEGER || type_class == H5T_FLOAT; }
};

struct DatasetInfo {
  std::vector<int64_t> dims;  // empty for scalar
  TypeInfo type;
  std::vector<std::string> compound_members;  // for compound datasets
  int64_t length() const { return dims.empty() ? 1 : dims[0]; }
};

template <class T> hid_t native_type();
template <> inline hid_t native_type<float>() { return H5T_NATIVE_FLOAT; }
template <> inline hid_t native_type<double>() { return H5T_NATIVE_DOUBLE; }
template <> inline hid_t native_type<int8_t>() { return H5T_NATIVE_INT8; }
template <> inline hid_t native_type<int32_t>() { return H5T_NATIVE_INT32; }
template <> inline hid_t native_type<int64_t>() { return H5T_NATIVE_INT64; }

class File {
 public:
  // Opens read-only; FormatError when the file is missing or not HDF5.
  explicit File(const std::string& path);
  static bool is_hdf5(const std::string& path);

  const std::string& path() const { return path_; }
  hid_t id() const { return file_.get(); }

  ObjectKind kind(const std::string& obj) const;  // kNone when any component is missing
  bool is_group(const std::string& obj) const { return kind(obj) == ObjectKind::kGroup; }
  bool is_dataset(const std::string& obj) const { return kind(obj) == ObjectKind::kDataset; }
  std::vector<std::string> children(const std::string& group) const;  // link names, by name

  bool has_attr(const std::string& obj, const std::string& name) const;
  TypeInfo attr_type(const std::string& obj, const std::string& name) const;
  std::optional<std::string> attr_string(const std::string& obj, const std::string& name) const;
  std::vector<std::string> attr_strings(const std::string& obj, const std::string& name) const;  // 1-D or scalar
  std::vector<int64_t> attr_ints(const std::string& obj, const std::string& name) const;
  // A scalar object-reference attribute (legacy AnnData categoricals): the path of the referenced object.
  std::string attr_reference_path(const std::string& obj, const std::string& name) const;

  DatasetInfo dataset_info(const std::string& obj) const;

  // 1-D numeric hyperslab [begin, begin + count); storage type converted to T by HDF5 (enums: their integer value).
  template <class T>
  std::vector<T> read(const std::string& obj, int64_t begin, int64_t count) const {
    std::vector<T> out(static_cast<size_t>(count));
    read_numeric(obj, begin, count, native_type<T>(), sizeof(T), out.data());
    return out;
  }
  template <class T>
  std::vector<T> read_all(const std::string& obj) const {
    return read<T>(obj, 0, dataset_info(obj).length());
  }
  // Rows [r0, r1) of a 2-D numeric dataset, row-major, r1 - r0 rows times dims[1] values.
  std::vector<float> read_rows_2d(const std::string& obj, int64_t r0, int64_t r1) const;
  // 1-D string dataset (variable or fixed length, trailing NULs removed); count < 0 means to the end.
  std::vector<std::string> read_strings(const std::string& obj, int64_t begin = 0, int64_t count = -1) const;

  // Compound datasets (anndata < 0.7 stored obs/var as one compound dataset).
  TypeInfo member_type(const std::string& obj, const std::string& member) const;
  std::vector<double> read_member_numeric(const std::string& obj, const std::string& member) const;
  std::vector<std::string> read_member_strings(const std::string& obj, const std::string& member) const;

  [[noreturn]] void fail(const std::string& obj, const std::string& what) const {
    throw_format_error(path_, obj, what);
  }

 private:
  hid_t open_dataset(const std::string& obj) const;  // cached; owned by the File
  // After a failed H5Dread: names an undecodable compression filter if that is the cause, else `what`.
  [[noreturn]] void read_failed(hid_t dset, const std::string& obj, const std::string& what) const;
  void read_numeric(const std::string& obj, int64_t begin, int64_t count, hid_t mem_type, size_t elem_size,
                    void* out) const;
  std::string path_;
  Id file_;  // declared before datasets_: the datasets close first
  mutable std::unordered_map<std::string, Id> datasets_;
};

}  // namespace sigtrain::singlecell::h5
