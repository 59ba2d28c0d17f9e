#include "data/singlecell/hdf5_file.h"

#include <algorithm>
#include <cstring>
#include <sstream>

namespace sigtrain::singlecell::h5 {
namespace {

// HDF5 prints its own error stack to stderr by default; our errors carry the context instead.
void silence_hdf5_errors() {
  static const bool done = [] {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    return true;
  }();
  (void)done;
}

TypeInfo type_info_of(hid_t type) {
  TypeInfo t;
  t.type_class = H5Tget_class(type);
  t.size = H5Tget_size(type);
  if (t.type_class == H5T_INTEGER) t.is_signed = H5Tget_sign(type) == H5T_SGN_2;
  if (t.type_class == H5T_STRING) t.is_vlen_string = H5Tis_variable_str(type) > 0;
  if (t.type_class == H5T_ENUM) {
    Id super(H5Tget_super(type), H5Tclose);
    t.is_signed = H5Tget_sign(super.get()) == H5T_SGN_2;
  }
  return t;
}

// A memory type for reading variable-length strings of the file type's character set.
Id vlen_string_type(hid_t file_type) {
  Id t(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(t.get(), H5T_VARIABLE);
  H5Tset_cset(t.get(), H5Tget_cset(file_type));
  return t;
}

std::string trim_fixed(const char* p, size_t n) {
  size_t len = 0;
  while (len < n && p[len] != '\0') ++len;
  while (len > 0 && p[len - 1] == ' ') --len;  // H5T_STR_SPACEPAD
  return std::string(p, len);
}

int64_t decode_signed(const unsigned char* p, size_t size, bool is_signed) {
  switch (size) {
    case 1: return is_signed ? static_cast<int64_t>(static_cast<int8_t>(p[0])) : p[0];
    case 2: { int16_t v; uint16_t u; std::memcpy(&v, p, 2); std::memcpy(&u, p, 2); return is_signed ? v : u; }
    case 4: { int32_t v; uint32_t u; std::memcpy(&v, p, 4); std::memcpy(&u, p, 4); return is_signed ? v : u; }
    default: { int64_t v; std::memcpy(&v, p, 8); return v; }
  }
}

}  // namespace

Id& Id::operator=(Id&& o) noexcept {
  if (this != &o) {
    if (id_ >= 0 && closer_) closer_(id_);
    id_ = o.id_;
    closer_ = o.closer_;
    o.id_ = H5I_INVALID_HID;
  }
  return *this;
}

Id::~Id() {
  if (id_ >= 0 && closer_) closer_(id_);
}

std::string TypeInfo::name() const {
  switch (type_class) {
    case H5T_INTEGER: return std::string(is_signed ? "int" : "uint") + std::to_string(size * 8);
    case H5T_FLOAT: return "float" + std::to_string(size * 8);
    case H5T_STRING: return is_vlen_string ? "string" : "string(fixed " + std::to_string(size) + ")";
    case H5T_ENUM: return size == 1 ? "bool" : "enum";
    case H5T_COMPOUND: return "compound";
    case H5T_REFERENCE: return "reference";
    case H5T_ARRAY: return "array";
    default: return "other";
  }
}

bool File::is_hdf5(const std::string& path) {
  silence_hdf5_errors();
  return H5Fis_hdf5(path.c_str()) > 0;
}

File::File(const std::string& path) : path_(path) {
  silence_hdf5_errors();
  if (H5Fis_hdf5(path.c_str()) <= 0) throw_format_error(path, "", "not an HDF5 file (or cannot be opened)");
  file_ = Id(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  if (!file_.valid()) throw_format_error(path, "", "cannot open as HDF5 (truncated or unreadable?)");
}

ObjectKind File::kind(const std::string& obj) const {
  if (obj.empty() || obj == "/") return ObjectKind::kGroup;
  // H5Lexists fails on a missing intermediate group, so walk the components.
  std::string prefix;
  std::stringstream ss(obj);
  std::string part;
  while (std::getline(ss, part, '/')) {
    if (part.empty()) continue;
    prefix += "/" + part;
    if (H5Lexists(file_.get(), prefix.c_str(), H5P_DEFAULT) <= 0) return ObjectKind::kNone;
  }
  Id o(H5Oopen(file_.get(), obj.c_str(), H5P_DEFAULT), H5Oclose);
  if (!o.valid()) return ObjectKind::kNone;
  switch (H5Iget_type(o.get())) {
    case H5I_GROUP: return ObjectKind::kGroup;
    case H5I_DATASET: return ObjectKind::kDataset;
    default: return ObjectKind::kOther;
  }
}

std::vector<std::string> File::children(const std::string& group) const {
  std::vector<std::string> names;
  Id g(H5Gopen2(file_.get(), group.c_str(), H5P_DEFAULT), H5Gclose);
  if (!g.valid()) fail(group, "expected a group");
  auto cb = [](hid_t, const char* name, const H5L_info_t*, void* data) -> herr_t {
    static_cast<std::vector<std::string>*>(data)->emplace_back(name);
    return 0;
  };
  hsize_t idx = 0;
  H5Literate(g.get(), H5_INDEX_NAME, H5_ITER_INC, &idx, cb, &names);
  return names;
}

bool File::has_attr(const std::string& obj, const std::string& name) const {
  if (kind(obj) == ObjectKind::kNone) return false;
  return H5Aexists_by_name(file_.get(), obj.c_str(), name.c_str(), H5P_DEFAULT) > 0;
}

TypeInfo File::attr_type(const std::string& obj, const std::string& name) const {
  Id a(H5Aopen_by_name(file_.get(), obj.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  if (!a.valid()) fail(obj, "missing attribute '" + name + "'");
  Id t(H5Aget_type(a.get()), H5Tclose);
  return type_info_of(t.get());
}

std::vector<std::string> File::attr_strings(const std::string& obj, const std::string& name) const {
  Id a(H5Aopen_by_name(file_.get(), obj.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  if (!a.valid()) fail(obj, "missing attribute '" + name + "'");
  Id t(H5Aget_type(a.get()), H5Tclose);
  Id s(H5Aget_space(a.get()), H5Sclose);
  const hssize_t n = H5Sget_simple_extent_npoints(s.get());
  const TypeInfo ti = type_info_of(t.get());
  if (ti.type_class != H5T_STRING) {
    if (n == 0) return {};  // h5py writes an empty list as a float64 array of length 0
    fail(obj, "attribute '" + name + "': expected string(s), got " + ti.name());
  }
  std::vector<std::string> out;
  if (ti.is_vlen_string) {
    Id mt = vlen_string_type(t.get());
    std::vector<char*> buf(static_cast<size_t>(n), nullptr);
    if (H5Aread(a.get(), mt.get(), buf.data()) < 0) fail(obj, "cannot read attribute '" + name + "'");
    for (char* p : buf) out.emplace_back(p ? p : "");
    H5Dvlen_reclaim(mt.get(), s.get(), H5P_DEFAULT, buf.data());
  } else {
    std::vector<char> buf(static_cast<size_t>(n) * ti.size);
    if (H5Aread(a.get(), t.get(), buf.data()) < 0) fail(obj, "cannot read attribute '" + name + "'");
    for (hssize_t i = 0; i < n; ++i) out.push_back(trim_fixed(buf.data() + i * ti.size, ti.size));
  }
  return out;
}

std::optional<std::string> File::attr_string(const std::string& obj, const std::string& name) const {
  if (!has_attr(obj, name)) return std::nullopt;
  auto v = attr_strings(obj, name);
  if (v.size() != 1) fail(obj, "attribute '" + name + "': expected one string, got " + std::to_string(v.size()));
  return v[0];
}

std::vector<int64_t> File::attr_ints(const std::string& obj, const std::string& name) const {
  Id a(H5Aopen_by_name(file_.get(), obj.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  if (!a.valid()) fail(obj, "missing attribute '" + name + "'");
  Id t(H5Aget_type(a.get()), H5Tclose);
  const TypeInfo ti = type_info_of(t.get());
  if (!ti.is_numeric()) fail(obj, "attribute '" + name + "': expected integers, got " + ti.name());
  Id s(H5Aget_space(a.get()), H5Sclose);
  std::vector<int64_t> out(static_cast<size_t>(H5Sget_simple_extent_npoints(s.get())));
  if (H5Aread(a.get(), H5T_NATIVE_INT64, out.data()) < 0) fail(obj, "cannot read attribute '" + name + "'");
  return out;
}

std::string File::attr_reference_path(const std::string& obj, const std::string& name) const {
  Id a(H5Aopen_by_name(file_.get(), obj.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  if (!a.valid()) fail(obj, "missing attribute '" + name + "'");
  Id t(H5Aget_type(a.get()), H5Tclose);
  if (H5Tget_class(t.get()) != H5T_REFERENCE) fail(obj, "attribute '" + name + "': expected an object reference");
  hobj_ref_t ref{};
  if (H5Aread(a.get(), H5T_STD_REF_OBJ, &ref) < 0) fail(obj, "cannot read reference attribute '" + name + "'");
  Id target(H5Rdereference2(file_.get(), H5P_DEFAULT, H5R_OBJECT, &ref), H5Oclose);
  if (!target.valid()) fail(obj, "attribute '" + name + "': dangling object reference");
  char buf[4096];
  const ssize_t len = H5Iget_name(target.get(), buf, sizeof(buf));
  if (len <= 0) fail(obj, "attribute '" + name + "': referenced object has no name");
  return std::string(buf, static_cast<size_t>(std::min<ssize_t>(len, sizeof(buf) - 1)));
}

hid_t File::open_dataset(const std::string& obj) const {
  // Datasets stay open for the life of the File: reopening one per slice would also drop its chunk cache, and
  // chunked (compressed) matrices would then decompress the same chunks again for every small read.
  auto it = datasets_.find(obj);
  if (it != datasets_.end()) return it->second.get();
  if (kind(obj) != ObjectKind::kDataset) fail(obj, "expected a dataset, found none");
  Id dapl(H5Pcreate(H5P_DATASET_ACCESS), H5Pclose);
  H5Pset_chunk_cache(dapl.get(), 12421, size_t{16} << 20, 0.75);
  Id d(H5Dopen2(file_.get(), obj.c_str(), dapl.get()), H5Dclose);
  if (!d.valid()) fail(obj, "cannot open dataset");
  const hid_t id = d.get();
  datasets_.emplace(obj, std::move(d));
  return id;
}

void File::read_failed(hid_t dset, const std::string& obj, const std::string& what) const {
  Id plist(H5Dget_create_plist(dset), H5Pclose);
  const int n = H5Pget_nfilters(plist.get());
  for (int i = 0; i < n; ++i) {
    unsigned flags = 0;
    size_t nelm = 0;
    unsigned filter_config = 0;
    char name[256] = {0};
    const H5Z_filter_t f = H5Pget_filter2(plist.get(), static_cast<unsigned>(i), &flags, &nelm, nullptr,
                                          sizeof(name), name, &filter_config);
    if (f >= 0 && H5Zfilter_avail(f) <= 0) {
      fail(obj, what + ": the dataset is compressed with HDF5 filter " + std::to_string(f) + " (" + name +
                    "), which this libhdf5 could not decode (no plugin, or the plugin failed); for LZF (32000) "
                    "install Debian hdf5-plugin-lzf (hdf5-filter-plugin for LZ4/bitshuffle) and point "
                    "HDF5_PLUGIN_PATH at its plugin folder, or rewrite the file with gzip "
                    "(scripts/singlecell/repack_lzf_to_gzip.py)");
    }
  }
  fail(obj, what);
}

DatasetInfo File::dataset_info(const std::string& obj) const {
  const hid_t d = open_dataset(obj);
  Id t(H5Dget_type(d), H5Tclose);
  Id s(H5Dget_space(d), H5Sclose);
  DatasetInfo info;
  info.type = type_info_of(t.get());
  const int rank = H5Sget_simple_extent_ndims(s.get());
  std::vector<hsize_t> dims(static_cast<size_t>(std::max(rank, 0)));
  if (rank > 0) H5Sget_simple_extent_dims(s.get(), dims.data(), nullptr);
  for (hsize_t v : dims) info.dims.push_back(static_cast<int64_t>(v));
  if (info.type.type_class == H5T_COMPOUND) {
    const int nm = H5Tget_nmembers(t.get());
    for (int i = 0; i < nm; ++i) {
      char* nm_c = H5Tget_member_name(t.get(), static_cast<unsigned>(i));
      info.compound_members.emplace_back(nm_c);
      H5free_memory(nm_c);
    }
  }
  return info;
}

void File::read_numeric(const std::string& obj, int64_t begin, int64_t count, hid_t mem_type, size_t elem_size,
                        void* out) const {
  const hid_t d = open_dataset(obj);
  Id t(H5Dget_type(d), H5Tclose);
  const TypeInfo ti = type_info_of(t.get());
  if (!ti.is_numeric() && ti.type_class != H5T_ENUM) fail(obj, "expected a numeric dataset, got " + ti.name());
  Id fs(H5Dget_space(d), H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(fs.get());
  hsize_t len = 1;
  if (rank == 1) H5Sget_simple_extent_dims(fs.get(), &len, nullptr);
  else if (rank != 0) fail(obj, "expected a 1-D dataset, got rank " + std::to_string(rank));
  if (begin < 0 || count < 0 || static_cast<hsize_t>(begin + count) > len) {
    fail(obj, "read of [" + std::to_string(begin) + ", " + std::to_string(begin + count) +
                  ") is outside the dataset of length " + std::to_string(len));
  }
  if (count == 0) return;
  if (rank == 1) {
    hsize_t start = static_cast<hsize_t>(begin), cnt = static_cast<hsize_t>(count);
    H5Sselect_hyperslab(fs.get(), H5S_SELECT_SET, &start, nullptr, &cnt, nullptr);
  }
  hsize_t mcnt = static_cast<hsize_t>(count);
  Id ms(H5Screate_simple(1, &mcnt, nullptr), H5Sclose);
  if (ti.type_class == H5T_ENUM) {
    // No HDF5 conversion from enum to integer: read the enum's own bytes and decode its integer value.
    Id nt(H5Tget_native_type(t.get(), H5T_DIR_ASCEND), H5Tclose);
    std::vector<unsigned char> raw(static_cast<size_t>(count) * ti.size);
    if (H5Dread(d, nt.get(), ms.get(), fs.get(), H5P_DEFAULT, raw.data()) < 0) read_failed(d, obj, "read failed");
    std::vector<double> tmp(static_cast<size_t>(count));
    for (int64_t i = 0; i < count; ++i) tmp[i] = static_cast<double>(decode_signed(&raw[i * ti.size], ti.size, ti.is_signed));
    H5Tconvert(H5T_NATIVE_DOUBLE, mem_type, static_cast<size_t>(count), tmp.data(), nullptr, H5P_DEFAULT);
    std::memcpy(out, tmp.data(), static_cast<size_t>(count) * elem_size);
    return;
  }
  if (H5Dread(d, mem_type, ms.get(), fs.get(), H5P_DEFAULT, out) < 0) read_failed(d, obj, "read of [" + std::to_string(begin) + ", " + std::to_string(begin + count) +
                  ") failed (truncated file or corrupt chunk?)");
}

std::vector<float> File::read_rows_2d(const std::string& obj, int64_t r0, int64_t r1) const {
  const hid_t d = open_dataset(obj);
  Id t(H5Dget_type(d), H5Tclose);
  const TypeInfo ti = type_info_of(t.get());
  if (!ti.is_numeric()) fail(obj, "expected a numeric 2-D dataset, got " + ti.name());
  Id fs(H5Dget_space(d), H5Sclose);
  if (H5Sget_simple_extent_ndims(fs.get()) != 2) fail(obj, "expected a 2-D dataset");
  hsize_t dims[2];
  H5Sget_simple_extent_dims(fs.get(), dims, nullptr);
  if (r0 < 0 || r1 < r0 || static_cast<hsize_t>(r1) > dims[0]) {
    fail(obj, "row range [" + std::to_string(r0) + ", " + std::to_string(r1) + ") outside " + std::to_string(dims[0]) +
                  " rows");
  }
  std::vector<float> out(static_cast<size_t>((r1 - r0) * static_cast<int64_t>(dims[1])));
  if (out.empty()) return out;
  hsize_t start[2] = {static_cast<hsize_t>(r0), 0}, cnt[2] = {static_cast<hsize_t>(r1 - r0), dims[1]};
  H5Sselect_hyperslab(fs.get(), H5S_SELECT_SET, start, nullptr, cnt, nullptr);
  Id ms(H5Screate_simple(2, cnt, nullptr), H5Sclose);
  if (H5Dread(d, H5T_NATIVE_FLOAT, ms.get(), fs.get(), H5P_DEFAULT, out.data()) < 0) read_failed(d, obj, "read of rows [" + std::to_string(r0) + ", " + std::to_string(r1) + ") failed");
  return out;
}

std::vector<std::string> File::read_strings(const std::string& obj, int64_t begin, int64_t count) const {
  const hid_t d = open_dataset(obj);
  Id t(H5Dget_type(d), H5Tclose);
  const TypeInfo ti = type_info_of(t.get());
  if (ti.type_class != H5T_STRING) fail(obj, "expected a string dataset, got " + ti.name());
  Id fs(H5Dget_space(d), H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(fs.get());
  hsize_t len = 1;
  if (rank == 1) H5Sget_simple_extent_dims(fs.get(), &len, nullptr);
  else if (rank != 0) fail(obj, "expected a 1-D string dataset, got rank " + std::to_string(rank));
  if (count < 0) count = static_cast<int64_t>(len) - begin;
  if (begin < 0 || count < 0 || static_cast<hsize_t>(begin + count) > len) fail(obj, "string read out of range");
  std::vector<std::string> out;
  if (count == 0) return out;
  if (rank == 1) {
    hsize_t start = static_cast<hsize_t>(begin), cnt = static_cast<hsize_t>(count);
    H5Sselect_hyperslab(fs.get(), H5S_SELECT_SET, &start, nullptr, &cnt, nullptr);
  }
  hsize_t mcnt = static_cast<hsize_t>(count);
  Id ms(H5Screate_simple(1, &mcnt, nullptr), H5Sclose);
  out.reserve(static_cast<size_t>(count));
  if (ti.is_vlen_string) {
    Id mt = vlen_string_type(t.get());
    std::vector<char*> buf(static_cast<size_t>(count), nullptr);
    if (H5Dread(d, mt.get(), ms.get(), fs.get(), H5P_DEFAULT, buf.data()) < 0) read_failed(d, obj, "string read failed");
    for (char* p : buf) out.emplace_back(p ? p : "");
    H5Dvlen_reclaim(mt.get(), ms.get(), H5P_DEFAULT, buf.data());
  } else {
    std::vector<char> buf(static_cast<size_t>(count) * ti.size);
    if (H5Dread(d, t.get(), ms.get(), fs.get(), H5P_DEFAULT, buf.data()) < 0) read_failed(d, obj, "string read failed");
    for (int64_t i = 0; i < count; ++i) out.push_back(trim_fixed(buf.data() + i * ti.size, ti.size));
  }
  return out;
}

TypeInfo File::member_type(const std::string& obj, const std::string& member) const {
  const hid_t d = open_dataset(obj);
  Id t(H5Dget_type(d), H5Tclose);
  if (H5Tget_class(t.get()) != H5T_COMPOUND) fail(obj, "expected a compound dataset");
  const int idx = H5Tget_member_index(t.get(), member.c_str());
  if (idx < 0) fail(obj, "compound dataset has no field '" + member + "'");
  Id mt(H5Tget_member_type(t.get(), static_cast<unsigned>(idx)), H5Tclose);
  return type_info_of(mt.get());
}

std::vector<double> File::read_member_numeric(const std::string& obj, const std::string& member) const {
  const hid_t d = open_dataset(obj);
  Id t(H5Dget_type(d), H5Tclose);
  const int idx = H5Tget_member_index(t.get(), member.c_str());
  if (idx < 0) fail(obj, "compound dataset has no field '" + member + "'");
  Id ft(H5Tget_member_type(t.get(), static_cast<unsigned>(idx)), H5Tclose);
  const TypeInfo ti = type_info_of(ft.get());
  Id fs(H5Dget_space(d), H5Sclose);
  const hssize_t n = H5Sget_simple_extent_npoints(fs.get());
  std::vector<double> out(static_cast<size_t>(n));
  if (ti.is_numeric()) {
    Id ct(H5Tcreate(H5T_COMPOUND, sizeof(double)), H5Tclose);
    H5Tinsert(ct.get(), member.c_str(), 0, H5T_NATIVE_DOUBLE);
    if (H5Dread(d, ct.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()) < 0) read_failed(d, obj + "." + member, "read failed");
  } else if (ti.type_class == H5T_ENUM) {
    Id nt(H5Tget_native_type(ft.get(), H5T_DIR_ASCEND), H5Tclose);
    Id ct(H5Tcreate(H5T_COMPOUND, ti.size), H5Tclose);
    H5Tinsert(ct.get(), member.c_str(), 0, nt.get());
    std::vector<unsigned char> raw(static_cast<size_t>(n) * ti.size);
    if (H5Dread(d, ct.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, raw.data()) < 0) read_failed(d, obj + "." + member, "read failed");
    for (hssize_t i = 0; i < n; ++i) out[i] = static_cast<double>(decode_signed(&raw[i * ti.size], ti.size, ti.is_signed));
  } else {
    fail(obj, "field '" + member + "': expected numbers, got " + ti.name());
  }
  return out;
}

std::vector<std::string> File::read_member_strings(const std::string& obj, const std::string& member) const {
  const hid_t d = open_dataset(obj);
  Id t(H5Dget_type(d), H5Tclose);
  const int idx = H5Tget_member_index(t.get(), member.c_str());
  if (idx < 0) fail(obj, "compound dataset has no field '" + member + "'");
  Id ft(H5Tget_member_type(t.get(), static_cast<unsigned>(idx)), H5Tclose);
  const TypeInfo ti = type_info_of(ft.get());
  if (ti.type_class != H5T_STRING) fail(obj, "field '" + member + "': expected strings, got " + ti.name());
  Id fs(H5Dget_space(d), H5Sclose);
  const hssize_t n = H5Sget_simple_extent_npoints(fs.get());
  std::vector<std::string> out;
  out.reserve(static_cast<size_t>(n));
  if (ti.is_vlen_string) {
    Id st = vlen_string_type(ft.get());
    Id ct(H5Tcreate(H5T_COMPOUND, sizeof(char*)), H5Tclose);
    H5Tinsert(ct.get(), member.c_str(), 0, st.get());
    std::vector<char*> buf(static_cast<size_t>(n), nullptr);
    if (H5Dread(d, ct.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()) < 0) read_failed(d, obj + "." + member, "read failed");
    for (char* p : buf) out.emplace_back(p ? p : "");
    H5Dvlen_reclaim(ct.get(), fs.get(), H5P_DEFAULT, buf.data());
  } else {
    Id ct(H5Tcreate(H5T_COMPOUND, ti.size), H5Tclose);
    H5Tinsert(ct.get(), member.c_str(), 0, ft.get());
    std::vector<char> buf(static_cast<size_t>(n) * ti.size);
    if (H5Dread(d, ct.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()) < 0) read_failed(d, obj + "." + member, "read failed");
    for (hssize_t i = 0; i < n; ++i) out.push_back(trim_fixed(buf.data() + i * ti.size, ti.size));
  }
  return out;
}

}  // namespace sigtrain::singlecell::h5
