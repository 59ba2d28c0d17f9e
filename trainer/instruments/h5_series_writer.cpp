#include "trainer/instruments/h5_series_writer.h"

#include <hdf5.h>

#include <algorithm>
#include <filesystem>
#include <stdexcept>

namespace sigtrain::trainer {

namespace {

// HDF5 prints its error stack to stderr by default; we report errors ourselves.
struct QuietErrors {
  H5E_auto2_t func = nullptr;
  void* data = nullptr;
  QuietErrors() {
    H5Eget_auto2(H5E_DEFAULT, &func, &data);
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  }
  ~QuietErrors() { H5Eset_auto2(H5E_DEFAULT, func, data); }
};

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw std::runtime_error(path + ": HDF5: " + what);
}

bool link_exists(hid_t loc, const std::string& name) {
  // Check each path component (H5Lexists fails on a missing intermediate group).
  std::string prefix;
  size_t start = 0;
  while (start <= name.size()) {
    size_t slash = name.find('/', start);
    std::string part = name.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (!part.empty()) {
      prefix += (prefix.empty() ? "" : "/") + part;
      if (H5Lexists(loc, prefix.c_str(), H5P_DEFAULT) <= 0) return false;
    }
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return true;
}

herr_t collect_name(hid_t, const char* name, const H5L_info_t*, void* op) {
  static_cast<std::vector<std::string>*>(op)->push_back(name);
  return 0;
}

std::vector<std::string> members(hid_t group) {
  std::vector<std::string> names;
  hsize_t idx = 0;
  H5Literate(group, H5_INDEX_NAME, H5_ITER_INC, &idx, collect_name, &names);
  std::sort(names.begin(), names.end());
  return names;
}

// Drops rows of steps > last_step in every group that has a `step` dataset.
void truncate_groups(hid_t file, int64_t last_step, const std::string& path) {
  for (const auto& g : members(file)) {
    H5O_info_t info;
    if (H5Oget_info_by_name(file, g.c_str(), &info, H5P_DEFAULT) < 0 || info.type != H5O_TYPE_GROUP) continue;
    hid_t group = H5Gopen2(file, g.c_str(), H5P_DEFAULT);
    if (group < 0) fail(path, "cannot open group " + g);
    if (H5Lexists(group, "step", H5P_DEFAULT) > 0) {
      hid_t ds = H5Dopen2(group, "step", H5P_DEFAULT);
      hid_t space = H5Dget_space(ds);
      hsize_t n = 0;
      H5Sget_simple_extent_dims(space, &n, nullptr);
      H5Sclose(space);
      std::vector<int64_t> steps(n);
      if (n > 0) H5Dread(ds, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, steps.data());
      H5Dclose(ds);
      hsize_t keep = 0;
      while (keep < n && steps[keep] <= last_step) ++keep;
      if (keep < n) {
        for (const auto& m : members(group)) {
          hid_t d = H5Dopen2(group, m.c_str(), H5P_DEFAULT);
          if (d < 0) continue;
          hid_t sp = H5Dget_space(d);
          hsize_t dims[2] = {0, 0};
          const int rank = H5Sget_simple_extent_dims(sp, dims, nullptr);
          H5Sclose(sp);
          dims[0] = std::min<hsize_t>(dims[0], keep);
          if (rank >= 1 && H5Dset_extent(d, dims) < 0) fail(path, "cannot truncate " + g + "/" + m);
          H5Dclose(d);
        }
      }
    }
    H5Gclose(group);
  }
}

}  // namespace

H5SeriesWriter::H5SeriesWriter(const std::string& path, int64_t truncate_after_step) : path_(path) {
  QuietErrors quiet;
  if (truncate_after_step >= 0 && std::filesystem::exists(path) && H5Fis_hdf5(path.c_str()) > 0) {
    file_ = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    if (file_ < 0) fail(path, "cannot open for appending");
    truncate_groups(file_, truncate_after_step, path);
  } else {
    file_ = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (file_ < 0) fail(path, "cannot create");
  }
}

H5SeriesWriter::~H5SeriesWriter() {
  for (auto& [name, id] : datasets_) H5Dclose(id);
  if (file_ >= 0) {
    H5Fflush(file_, H5F_SCOPE_GLOBAL);
    H5Fclose(file_);
  }
}

long long H5SeriesWriter::open_dataset(const std::string& name, int rank, int64_t width, bool is_int) {
  auto it = datasets_.find(name);
  if (it != datasets_.end()) return it->second;
  QuietErrors quiet;
  hid_t ds;
  if (link_exists(file_, name)) {
    ds = H5Dopen2(file_, name.c_str(), H5P_DEFAULT);
    if (ds < 0) fail(path_, "cannot open dataset " + name);
    hid_t sp = H5Dget_space(ds);
    hsize_t dims[2] = {0, 0};
    const int r = H5Sget_simple_extent_dims(sp, dims, nullptr);
    H5Sclose(sp);
    if (r != rank || (rank == 2 && static_cast<int64_t>(dims[1]) != width))
      fail(path_, "dataset " + name + " exists with another shape (a resume with a different model?)");
  } else {
    hsize_t dims[2] = {0, static_cast<hsize_t>(width)};
    hsize_t maxdims[2] = {H5S_UNLIMITED, static_cast<hsize_t>(width)};
    hsize_t chunk[2] = {rank == 1 ? hsize_t{1024} : std::max<hsize_t>(16, 4096 / std::max<int64_t>(1, width)),
                        static_cast<hsize_t>(width)};
    hid_t space = H5Screate_simple(rank, dims, maxdims);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, rank, chunk);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    ds = H5Dcreate2(file_, name.c_str(), is_int ? H5T_STD_I64LE : H5T_IEEE_F32LE, space, lcpl, dcpl, H5P_DEFAULT);
    H5Pclose(lcpl);
    H5Pclose(dcpl);
    H5Sclose(space);
    if (ds < 0) fail(path_, "cannot create dataset " + name);
  }
  datasets_[name] = ds;
  return ds;
}

namespace {
void append_rows(const std::string& path, const std::string& name, hid_t ds, hid_t mem_type, const void* data,
                 int64_t rows, int rank, int64_t width) {
  if (rows <= 0) return;
  hid_t sp = H5Dget_space(ds);
  hsize_t dims[2] = {0, 0};
  H5Sget_simple_extent_dims(sp, dims, nullptr);
  H5Sclose(sp);
  hsize_t new_dims[2] = {dims[0] + static_cast<hsize_t>(rows), static_cast<hsize_t>(width)};
  if (H5Dset_extent(ds, new_dims) < 0) fail(path, "cannot extend " + name);
  hid_t file_space = H5Dget_space(ds);
  hsize_t start[2] = {dims[0], 0};
  hsize_t count[2] = {static_cast<hsize_t>(rows), static_cast<hsize_t>(width)};
  H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start, nullptr, count, nullptr);
  hid_t mem_space = H5Screate_simple(rank, count, nullptr);
  const herr_t st = H5Dwrite(ds, mem_type, mem_space, file_space, H5P_DEFAULT, data);
  H5Sclose(mem_space);
  H5Sclose(file_space);
  if (st < 0) fail(path, "cannot write " + name);
}
}  // namespace

void H5SeriesWriter::append_f32(const std::string& name, const float* data, int64_t rows, int64_t width) {
  const int rank = width == 0 ? 1 : 2;
  hid_t ds = open_dataset(name, rank, width, false);
  append_rows(path_, name, ds, H5T_NATIVE_FLOAT, data, rows, rank, width);
}

void H5SeriesWriter::append_i64(const std::string& name, const int64_t* data, int64_t rows) {
  hid_t ds = open_dataset(name, 1, 0, true);
  append_rows(path_, name, ds, H5T_NATIVE_INT64, data, rows, 1, 0);
}

void H5SeriesWriter::set_attr(const std::string& object, const std::string& key, const std::string& value) {
  QuietErrors quiet;
  const char* obj = object.empty() ? "." : object.c_str();
  if (H5Aexists_by_name(file_, obj, key.c_str(), H5P_DEFAULT) > 0) H5Adelete_by_name(file_, obj, key.c_str(), H5P_DEFAULT);
  hid_t type = H5Tcopy(H5T_C_S1);
  H5Tset_size(type, std::max<size_t>(1, value.size()));
  H5Tset_strpad(type, H5T_STR_NULLPAD);
  hid_t space = H5Screate(H5S_SCALAR);
  hid_t attr = H5Acreate_by_name(file_, obj, key.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (attr < 0) {
    H5Sclose(space);
    H5Tclose(type);
    fail(path_, "cannot create attribute " + key + " on '" + object + "'");
  }
  std::string padded = value.empty() ? std::string(1, '\0') : value;
  H5Awrite(attr, type, padded.data());
  H5Aclose(attr);
  H5Sclose(space);
  H5Tclose(type);
}

void H5SeriesWriter::flush() {
  if (H5Fflush(file_, H5F_SCOPE_GLOBAL) < 0) fail(path_, "flush failed");
}

// --- read side ----------------------------------------------------------------------------------------------------
namespace {
struct ReadFile {
  hid_t id = -1;
  explicit ReadFile(const std::string& path) {
    if (!std::filesystem::exists(path)) return;
    id = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    if (id < 0) fail(path, "cannot open for reading (damaged file?)");
  }
  ~ReadFile() {
    if (id >= 0) H5Fclose(id);
  }
};
}  // namespace

bool h5_read_series(const std::string& path, const std::string& name, H5Series* out) {
  QuietErrors quiet;
  ReadFile f(path);
  if (f.id < 0 || !link_exists(f.id, name)) return false;
  hid_t ds = H5Dopen2(f.id, name.c_str(), H5P_DEFAULT);
  if (ds < 0) return false;
  hid_t sp = H5Dget_space(ds);
  hsize_t dims[2] = {0, 0};
  const int rank = H5Sget_simple_extent_dims(sp, dims, nullptr);
  H5Sclose(sp);
  out->dims.assign(dims, dims + std::max(rank, 0));
  size_t n = 1;
  for (int i = 0; i < rank; ++i) n *= dims[i];
  out->values.assign(n, 0.0);
  herr_t st = n ? H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, out->values.data()) : 0;
  H5Dclose(ds);
  if (st < 0) fail(path, "cannot read " + name);
  return true;
}

std::vector<std::string> h5_list(const std::string& path, const std::string& group) {
  QuietErrors quiet;
  ReadFile f(path);
  if (f.id < 0) return {};
  if (!group.empty() && !link_exists(f.id, group)) return {};
  hid_t g = H5Gopen2(f.id, group.empty() ? "/" : group.c_str(), H5P_DEFAULT);
  if (g < 0) return {};
  auto names = members(g);
  H5Gclose(g);
  return names;
}

std::string h5_read_attr(const std::string& path, const std::string& object, const std::string& key) {
  QuietErrors quiet;
  ReadFile f(path);
  if (f.id < 0) return "";
  const char* obj = object.empty() ? "." : object.c_str();
  if (H5Aexists_by_name(f.id, obj, key.c_str(), H5P_DEFAULT) <= 0) return "";
  hid_t attr = H5Aopen_by_name(f.id, obj, key.c_str(), H5P_DEFAULT, H5P_DEFAULT);
  hid_t type = H5Aget_type(attr);
  const size_t size = H5Tget_size(type);
  std::string value(size, '\0');
  H5Aread(attr, type, value.data());
  H5Tclose(type);
  H5Aclose(attr);
  value.resize(value.find('\0') == std::string::npos ? value.size() : value.find('\0'));
  return value;
}

}  // namespace sigtrain::trainer
