#pragma once
// metrics.h5: time series of the stability instruments, one HDF5 dataset per series (HDF5 C API; torch-free so
// it never meets Torch's headers).
//
// Layout: one group per instrument, each with its own `step` dataset (int64 [n], the 1-based optimizer steps the
// rows belong to) and float32 series that have the same number of rows: 1-D [n] for scalars, 2-D [n, L] for
// per-layer values. Every dataset is chunked and extendable (H5S_UNLIMITED rows). The file is flushed (H5Fflush)
// after every append batch, so a killed run keeps everything it logged up to its last flush.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace sigtrain::trainer {

class H5SeriesWriter {
 public:
  // truncate_after_step < 0: a fresh run, the file is created (replacing an old one). >= 0: a resume, the existing
  // file (if any) is opened and, in every group with a `step` dataset, rows of later steps are dropped.
  H5SeriesWriter(const std::string& path, int64_t truncate_after_step);
  ~H5SeriesWriter();
  H5SeriesWriter(const H5SeriesWriter&) = delete;
  H5SeriesWriter& operator=(const H5SeriesWriter&) = delete;

  // Appends `rows` rows to dataset `name` ("group/series"), creating it (and its group) on first use:
  // width 0 = a 1-D series [n]; width >= 1 = a 2-D series [n, width] (width fixed at creation).
  void append_f32(const std::string& name, const float* data, int64_t rows, int64_t width = 0);
  void append_i64(const std::string& name, const int64_t* data, int64_t rows);
  // A string attribute on the file root ("") or on a group/dataset that exists.
  void set_attr(const std::string& object, const std::string& key, const std::string& value);
  void flush();

  const std::string& path() const { return path_; }

 private:
  long long open_dataset(const std::string& name, int rank, int64_t width, bool is_int);
  std::string path_;
  long long file_ = -1;
  std::map<std::string, long long> datasets_;  // name -> open dataset id
};

// Read side, for `sigtrain report` and tests. The file is opened read-only for the call.
struct H5Series {
  std::vector<int64_t> dims;   // [n] or [n, width]
  std::vector<double> values;  // row-major
  int64_t rows() const { return dims.empty() ? 0 : dims[0]; }
  int64_t width() const { return dims.size() > 1 ? dims[1] : 1; }
};
// false when the file or dataset does not exist; throws std::runtime_error when the file cannot be read.
bool h5_read_series(const std::string& path, const std::string& name, H5Series* out);
// Names of the objects directly in `group` ("" = root), sorted; empty when missing.
std::vector<std::string> h5_list(const std::string& path, const std::string& group);
// A string attribute, or "" when absent.
std::string h5_read_attr(const std::string& path, const std::string& object, const std::string& key);

}  // namespace sigtrain::trainer
