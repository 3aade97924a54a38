// results/hdf5.cpp: the HDF5 C API behind results/hdf5.h: ids, errors, files, groups and
// attributes. Strings are written as UTF-8 variable-length strings (h5py reads them as str);
// readers also accept fixed-length strings and any numeric type, so other tools' files load too.
// Not here: datasets (hdf5_dataset.cpp), what a run file's groups mean (run_file.cpp).
#include "results/hdf5.h"

#include <filesystem>
#include <functional>

#include "core/error.h"

namespace twla::h5 {

void quiet() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

Id& Id::operator=(Id&& o) noexcept {
  if (this != &o) {
    reset();
    id_ = o.id_;
    close_ = o.close_;
    o.id_ = H5I_INVALID_HID;
  }
  return *this;
}

herr_t Id::reset() {
  herr_t rc = 0;
  if (id_ >= 0 && close_) rc = close_(id_);
  id_ = H5I_INVALID_HID;
  return rc;
}

namespace {

herr_t collect_error(unsigned, const H5E_error2_t* e, void* out) {
  if (e && e->desc && *e->desc) *static_cast<std::string*>(out) = e->desc;  // innermost wins
  return 0;
}

herr_t collect_attr(hid_t, const char* name, const H5A_info_t*, void* out) {
  static_cast<std::vector<std::string>*>(out)->emplace_back(name);
  return 0;
}

}  // namespace

namespace detail {

Id make_type_utf8() {  // variable-length UTF-8 string
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, H5T_VARIABLE);
  H5Tset_cset(t, H5T_CSET_UTF8);
  return Id(t, H5Tclose);
}

Id plist(hid_t cls) { return Id(H5Pcreate(cls), H5Pclose); }

Id link_plist() {  // dataset names with '/' create their parent groups
  Id p = plist(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(p.get(), 1);
  return p;
}

hsize_t npoints(hid_t space) {
  hssize_t n = H5Sget_simple_extent_npoints(space);
  return n < 0 ? 0 : hsize_t(n);
}

// Reads n strings of file type `ftype` through `read(mem_type, buffer)` (H5Aread or H5Dread).
std::vector<std::string> read_string_array(hid_t ftype, size_t n,
                                           const std::function<herr_t(hid_t, void*)>& read) {
  std::vector<std::string> out;
  if (n == 0) return out;
  if (H5Tis_variable_str(ftype) > 0) {
    Id mtype = make_type_utf8();
    H5Tset_cset(mtype.get(), H5Tget_cset(ftype));
    std::vector<char*> ptrs(n, nullptr);
    if (read(mtype.get(), ptrs.data()) < 0) return {};
    for (char* p : ptrs) {
      out.emplace_back(p ? p : "");
      if (p) H5free_memory(p);
    }
    return out;
  }
  size_t size = H5Tget_size(ftype);
  Id mtype(H5Tcopy(ftype), H5Tclose);
  std::vector<char> buf(size * n, '\0');
  if (read(mtype.get(), buf.data()) < 0) return {};
  for (size_t i = 0; i < n; ++i) {
    const char* s = buf.data() + i * size;
    size_t len = 0;
    while (len < size && s[len] != '\0') ++len;
    out.emplace_back(s, len);
  }
  return out;
}

}  // namespace detail

using namespace detail;

std::string last_error() {
  std::string msg;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, collect_error, &msg);
  H5Eclear2(H5E_DEFAULT);
  return msg;
}

void Location::fail(const std::string& what) const {
  std::string reason = last_error();
  TWLA_FAIL("HDF5 file '", file_, "', ", path_, ": ", what, reason.empty() ? "" : ": ", reason);
}

std::string Location::sub(const std::string& name) const {
  return path_ == "/" ? "/" + name : path_ + "/" + name;
}

bool Location::has(const std::string& name) const {
  std::string prefix;
  for (size_t start = 0; start <= name.size();) {  // H5Lexists needs every parent to exist
    size_t slash = name.find('/', start);
    prefix = name.substr(0, slash);
    if (H5Lexists(id(), prefix.c_str(), H5P_DEFAULT) <= 0) {
      H5Eclear2(H5E_DEFAULT);
      return false;
    }
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return !name.empty();
}

bool Location::is_group(const std::string& name) const {
  if (!has(name)) return false;
  Id o(H5Oopen(id(), name.c_str(), H5P_DEFAULT), H5Oclose);
  return o.valid() && H5Iget_type(o.get()) == H5I_GROUP;
}

Location Location::group(const std::string& name) const {
  if (!has(name)) fail("no group '" + name + "'");
  Id g(H5Gopen2(id(), name.c_str(), H5P_DEFAULT), H5Gclose);
  if (!g.valid()) fail("cannot open group '" + name + "'");
  return Location(std::move(g), file_, sub(name));
}

Location Location::create_group(const std::string& name) const {
  Id gcpl = plist(H5P_GROUP_CREATE);
  H5Pset_link_creation_order(gcpl.get(), H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED);
  H5Pset_attr_creation_order(gcpl.get(), H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED);
  Id lcpl = link_plist();
  Id g(H5Gcreate2(id(), name.c_str(), lcpl.get(), gcpl.get(), H5P_DEFAULT), H5Gclose);
  if (!g.valid()) fail("cannot create group '" + name + "'");
  return Location(std::move(g), file_, sub(name));
}

std::vector<std::string> Location::children() const {
  H5G_info_t info{};
  if (H5Gget_info(id(), &info) < 0) fail("cannot list members");
  std::vector<std::string> out;
  for (H5_index_t index : {H5_INDEX_CRT_ORDER, H5_INDEX_NAME}) {  // creation order if tracked
    out.clear();
    for (hsize_t i = 0; i < info.nlinks; ++i) {
      ssize_t len = H5Lget_name_by_idx(id(), ".", index, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
      if (len < 0) break;
      std::string name(size_t(len) + 1, '\0');
      H5Lget_name_by_idx(id(), ".", index, H5_ITER_INC, i, name.data(), name.size(), H5P_DEFAULT);
      name.resize(size_t(len));
      out.push_back(name);
    }
    if (out.size() == info.nlinks) return out;
    H5Eclear2(H5E_DEFAULT);
  }
  fail("cannot list members");
}

std::vector<std::string> Location::datasets_below() const {
  std::vector<std::string> out;
  for (const std::string& c : children()) {
    if (is_group(c)) {
      for (const std::string& d : group(c).datasets_below()) out.push_back(c + "/" + d);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

bool Location::has_attr(const std::string& name) const {
  htri_t e = H5Aexists(id(), name.c_str());
  if (e < 0) H5Eclear2(H5E_DEFAULT);
  return e > 0;
}

std::vector<std::string> Location::attr_names() const {
  for (H5_index_t index : {H5_INDEX_CRT_ORDER, H5_INDEX_NAME}) {
    std::vector<std::string> out;
    hsize_t at = 0;
    if (H5Aiterate2(id(), index, H5_ITER_INC, &at, collect_attr, &out) >= 0) return out;
    H5Eclear2(H5E_DEFAULT);
  }
  fail("cannot list attributes");
}

namespace {
// Creates (or replaces) attribute `name` of `loc` and writes `data` of `mem_type`.
void put_attr(const Location& loc, const std::string& name, hid_t type, hid_t space,
              const void* data) {
  if (loc.has_attr(name) && H5Adelete(loc.id(), name.c_str()) < 0)
    loc.fail("cannot replace attribute '" + name + "'");
  Id a(H5Acreate2(loc.id(), name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  if (!a.valid() || (npoints(space) > 0 && H5Awrite(a.get(), type, data) < 0))
    loc.fail("cannot write attribute '" + name + "'");
}

Id open_attr(const Location& loc, const std::string& name, H5T_class_t want, size_t* n) {
  if (!loc.has_attr(name)) loc.fail("no attribute '" + name + "'");
  Id a(H5Aopen(loc.id(), name.c_str(), H5P_DEFAULT), H5Aclose);
  if (!a.valid()) loc.fail("cannot open attribute '" + name + "'");
  Id t(H5Aget_type(a.get()), H5Tclose);
  H5T_class_t c = H5Tget_class(t.get());
  bool ok = want == H5T_STRING ? c == H5T_STRING : (c == H5T_INTEGER || c == H5T_FLOAT);
  if (!ok)
    loc.fail("attribute '" + name + "' holds " + (c == H5T_STRING ? "text" : "a non-text type") +
             ", expected " + (want == H5T_STRING ? "text" : "a number"));
  Id s(H5Aget_space(a.get()), H5Sclose);
  *n = size_t(npoints(s.get()));
  return a;
}
}  // namespace

void Location::attr(const std::string& name, const std::string& value) const {
  Id type = make_type_utf8();
  Id space(H5Screate(H5S_SCALAR), H5Sclose);
  const char* p = value.c_str();
  put_attr(*this, name, type.get(), space.get(), &p);
}

void Location::attr(const std::string& name, double value) const {
  Id space(H5Screate(H5S_SCALAR), H5Sclose);
  put_attr(*this, name, H5T_NATIVE_DOUBLE, space.get(), &value);
}

void Location::attr(const std::string& name, long long value) const {
  Id space(H5Screate(H5S_SCALAR), H5Sclose);
  put_attr(*this, name, H5T_NATIVE_LLONG, space.get(), &value);
}

void Location::attr(const std::string& name, const std::vector<std::string>& values) const {
  Id type = make_type_utf8();
  hsize_t n = values.size();
  Id space(H5Screate_simple(1, &n, nullptr), H5Sclose);
  std::vector<const char*> ptrs;
  for (const auto& v : values) ptrs.push_back(v.c_str());
  put_attr(*this, name, type.get(), space.get(), ptrs.data());
}

std::string Location::attr_string(const std::string& name) const {
  std::vector<std::string> v = attr_strings(name);
  if (v.size() != 1) fail("attribute '" + name + "' holds " + std::to_string(v.size()) +
                          " strings, expected one");
  return v[0];
}

std::vector<std::string> Location::attr_strings(const std::string& name) const {
  size_t n = 0;
  Id a = open_attr(*this, name, H5T_STRING, &n);
  Id ftype(H5Aget_type(a.get()), H5Tclose);
  bool ok = true;
  auto out = read_string_array(ftype.get(), n, [&](hid_t mt, void* buf) {
    herr_t rc = H5Aread(a.get(), mt, buf);
    ok = rc >= 0;
    return rc;
  });
  if (!ok) fail("cannot read attribute '" + name + "'");
  return out;
}

double Location::attr_double(const std::string& name) const {
  size_t n = 0;
  Id a = open_attr(*this, name, H5T_FLOAT, &n);
  if (n != 1) fail("attribute '" + name + "' is not a single number");
  double v = 0;
  if (H5Aread(a.get(), H5T_NATIVE_DOUBLE, &v) < 0) fail("cannot read attribute '" + name + "'");
  return v;
}

long long Location::attr_int(const std::string& name) const {
  size_t n = 0;
  Id a = open_attr(*this, name, H5T_INTEGER, &n);
  if (n != 1) fail("attribute '" + name + "' is not a single number");
  long long v = 0;
  if (H5Aread(a.get(), H5T_NATIVE_LLONG, &v) < 0) fail("cannot read attribute '" + name + "'");
  return v;
}

namespace {
Id file_access_plist() {
  Id fapl = plist(H5P_FILE_ACCESS);
  // Locking fails on some network filesystems (Lustre, NFS without lockd); run files are written
  // once, to a temp name, then renamed, so locks buy nothing here.
#if H5_VERSION_GE(1, 12, 1) || (H5_VERS_MAJOR == 1 && H5_VERS_MINOR == 10 && H5_VERS_RELEASE >= 7)
  H5Pset_file_locking(fapl.get(), false, true);
#endif
  return fapl;
}
}  // namespace

File File::create(const std::string& path) {
  quiet();
  Id fcpl = plist(H5P_FILE_CREATE);
  H5Pset_link_creation_order(fcpl.get(), H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED);
  H5Pset_attr_creation_order(fcpl.get(), H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED);
  Id fapl = file_access_plist();
  Id f(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, fcpl.get(), fapl.get()), H5Fclose);
  if (!f.valid()) {
    std::string reason = last_error();
    TWLA_FAIL("cannot create HDF5 file '", path, "': ", reason,
              "; check that the directory exists and is writable");
  }
  return File(std::move(f), path, "/");
}

File File::open_read(const std::string& path) {
  quiet();
  TWLA_CHECK(std::filesystem::is_regular_file(path), "no such file '", path, "'");
  htri_t is = H5Fis_hdf5(path.c_str());
  H5Eclear2(H5E_DEFAULT);
  TWLA_CHECK(is > 0, "'", path, "' is not an HDF5 file (no HDF5 signature)");
  Id fapl = file_access_plist();
  Id f(H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl.get()), H5Fclose);
  if (!f.valid()) {
    std::string reason = last_error();
    TWLA_FAIL("cannot open HDF5 file '", path, "': ", reason,
              "; the file is truncated or corrupt");
  }
  return File(std::move(f), path, "/");
}

void File::close() {
  if (id_.valid() && id_.reset() < 0) {
    std::string reason = last_error();
    TWLA_FAIL("cannot finish HDF5 file '", file_, "': ", reason, " (disk full?)");
  }
}

}  // namespace twla::h5
