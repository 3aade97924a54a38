// results/hdf5_dataset.cpp: the dataset half of results/hdf5.h: 1-D double/int/string arrays
// and 2-D double arrays, written whole and read whole (run files are small).
// Not here: files, groups, attributes (hdf5.cpp).
#include "core/error.h"
#include "results/hdf5.h"

namespace twla::h5 {

using namespace detail;

void Location::write_raw(const std::string& name, hid_t file_type, hid_t mem_type,
                         const std::vector<size_t>& dims, const void* data) const {
  if (has(name) && H5Ldelete(id(), name.c_str(), H5P_DEFAULT) < 0)
    fail("cannot replace dataset '" + name + "'");
  std::vector<hsize_t> hd(dims.begin(), dims.end());
  Id space(H5Screate_simple(int(hd.size()), hd.data(), nullptr), H5Sclose);
  Id lcpl = link_plist();
  Id d(H5Dcreate2(id(), name.c_str(), file_type, space.get(), lcpl.get(), H5P_DEFAULT,
                  H5P_DEFAULT), H5Dclose);
  if (!d.valid()) fail("cannot create dataset '" + name + "'");
  if (npoints(space.get()) > 0 &&
      H5Dwrite(d.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
    fail("cannot write dataset '" + name + "'");
}

void Location::write(const std::string& name, const std::vector<double>& v) const {
  write_raw(name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, {v.size()}, v.data());
}

void Location::write(const std::string& name, const std::vector<int>& v) const {
  write_raw(name, H5T_STD_I32LE, H5T_NATIVE_INT, {v.size()}, v.data());
}

void Location::write(const std::string& name, const std::vector<std::string>& v) const {
  Id type = make_type_utf8();
  std::vector<const char*> ptrs;
  for (const auto& s : v) ptrs.push_back(s.c_str());
  write_raw(name, type.get(), type.get(), {v.size()}, ptrs.data());
}

void Location::write(const std::string& name, const Matrix& m) const {
  if (m.data.size() != m.rows * m.cols)
    fail("matrix '" + name + "' has " + std::to_string(m.data.size()) + " values for shape [" +
         std::to_string(m.rows) + ", " + std::to_string(m.cols) + "]");
  write_raw(name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, {m.rows, m.cols}, m.data.data());
}

Id Location::open_dataset(const std::string& name, std::vector<size_t>* dims) const {
  if (!has(name)) fail("no dataset '" + name + "'");
  Id d(H5Dopen2(id(), name.c_str(), H5P_DEFAULT), H5Dclose);
  if (!d.valid()) fail("cannot open dataset '" + name + "'");
  Id space(H5Dget_space(d.get()), H5Sclose);
  int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 0) fail("cannot read the shape of dataset '" + name + "'");
  std::vector<hsize_t> hd(size_t(rank), 0);
  H5Sget_simple_extent_dims(space.get(), hd.data(), nullptr);
  dims->assign(hd.begin(), hd.end());
  return d;
}

namespace {
size_t vector_length(const Location& loc, const std::string& name, const std::vector<size_t>& d) {
  if (d.size() > 1) loc.fail("dataset '" + name + "' has rank " + std::to_string(d.size()) +
                             ", expected a 1-D array");
  return d.empty() ? 1 : d[0];  // a scalar reads as one value
}
template <class T>
std::vector<T> read_numbers(const Location& loc, const Id& d, const std::string& name, size_t n,
                            hid_t mem_type) {
  Id t(H5Dget_type(d.get()), H5Tclose);
  H5T_class_t c = H5Tget_class(t.get());
  if (c != H5T_INTEGER && c != H5T_FLOAT) loc.fail("dataset '" + name + "' is not numeric");
  std::vector<T> v(n);
  if (n > 0 && H5Dread(d.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()) < 0)
    loc.fail("cannot read dataset '" + name + "'");
  return v;
}
}  // namespace

std::vector<double> Location::read_doubles(const std::string& name) const {
  std::vector<size_t> dims;
  Id d = open_dataset(name, &dims);
  return read_numbers<double>(*this, d, name, vector_length(*this, name, dims), H5T_NATIVE_DOUBLE);
}

std::vector<int> Location::read_ints(const std::string& name) const {
  std::vector<size_t> dims;
  Id d = open_dataset(name, &dims);
  return read_numbers<int>(*this, d, name, vector_length(*this, name, dims), H5T_NATIVE_INT);
}

std::vector<std::string> Location::read_strings(const std::string& name) const {
  std::vector<size_t> dims;
  Id d = open_dataset(name, &dims);
  size_t n = vector_length(*this, name, dims);
  Id ftype(H5Dget_type(d.get()), H5Tclose);
  if (H5Tget_class(ftype.get()) != H5T_STRING) fail("dataset '" + name + "' is not text");
  bool ok = true;
  auto out = read_string_array(ftype.get(), n, [&](hid_t mt, void* buf) {
    herr_t rc = H5Dread(d.get(), mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
    ok = rc >= 0;
    return rc;
  });
  if (!ok) fail("cannot read dataset '" + name + "'");
  return out;
}

Matrix Location::read_matrix(const std::string& name) const {
  std::vector<size_t> dims;
  Id d = open_dataset(name, &dims);
  if (dims.size() != 2) fail("dataset '" + name + "' is not a 2-D array");
  Matrix m;
  m.rows = dims[0];
  m.cols = dims[1];
  m.data = read_numbers<double>(*this, d, name, m.rows * m.cols, H5T_NATIVE_DOUBLE);
  return m;
}

}  // namespace twla::h5
