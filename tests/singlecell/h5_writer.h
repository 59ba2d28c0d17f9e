#pragma once
// Minimal HDF5 writing for tests that hand-make malformed files (the library itself only reads).
#include <hdf5.h>

#include <cstdint>
#include <string>
#include <vector>

namespace sc_test {

class H5Writer {
 public:
  explicit H5Writer(const std::string& path) { f_ = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT); }
  ~H5Writer() { H5Fclose(f_); }
  void group(const std::string& p) { H5Gclose(H5Gcreate2(f_, p.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)); }
  template <class T>
  void dataset(const std::string& p, const std::vector<T>& v, hid_t type) {
    hsize_t n = v.size();
    hid_t s = H5Screate_simple(1, &n, nullptr);
    hid_t d = H5Dcreate2(f_, p.c_str(), type, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (n) H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data());
    H5Dclose(d);
    H5Sclose(s);
  }
  void ints(const std::string& p, const std::vector<int64_t>& v) { dataset(p, v, H5T_NATIVE_INT64); }
  void floats(const std::string& p, const std::vector<float>& v) { dataset(p, v, H5T_NATIVE_FLOAT); }
  void strings(const std::string& p, const std::vector<std::string>& v) {
    std::vector<const char*> c;
    for (const auto& s : v) c.push_back(s.c_str());
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    dataset(p, c, t);
    H5Tclose(t);
  }
  // Fixed-length, NUL-padded strings (Cell Ranger writes barcodes as |S18).
  void fixed_strings(const std::string& p, const std::vector<std::string>& v, size_t width) {
    std::vector<char> buf(v.size() * width, '\0');
    for (size_t i = 0; i < v.size(); ++i) v[i].copy(buf.data() + i * width, width);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, width);
    H5Tset_strpad(t, H5T_STR_NULLPAD);
    hsize_t n = v.size();
    hid_t s = H5Screate_simple(1, &n, nullptr);
    hid_t d = H5Dcreate2(f_, p.c_str(), t, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data());
    H5Dclose(d);
    H5Sclose(s);
    H5Tclose(t);
  }
  // Unsigned 32-bit integers (the 10x page's documented type for data/indices/indptr).
  void uints(const std::string& p, const std::vector<uint32_t>& v) { dataset(p, v, H5T_NATIVE_UINT32); }
  void attr(const std::string& obj, const std::string& name, const std::string& value) {
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    hid_t s = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate_by_name(f_, obj.c_str(), name.c_str(), t, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    const char* c = value.c_str();
    H5Awrite(a, t, &c);
    H5Aclose(a);
    H5Sclose(s);
    H5Tclose(t);
  }
  void attr_ints(const std::string& obj, const std::string& name, const std::vector<int64_t>& v) {
    hsize_t n = v.size();
    hid_t s = H5Screate_simple(1, &n, nullptr);
    hid_t a = H5Acreate_by_name(f_, obj.c_str(), name.c_str(), H5T_NATIVE_INT64, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, H5T_NATIVE_INT64, v.data());
    H5Aclose(a);
    H5Sclose(s);
  }

 private:
  hid_t f_;
};

}  // namespace sc_test
