// results/hdf5.h: a thin RAII wrapper over the HDF5 C API, just what run files need: groups,
// scalar/string attributes, 1-D double/int/string datasets and 2-D double arrays.
// Every failure is a twla::Error naming the file, the object and HDF5's own reason; HDF5's
// automatic error printing is off. Not here: the twla run schema (run_file.cpp).
// Uses only APIs that are the same in HDF5 1.10 and 1.12+/1.14 (no versioned callback types).
#pragma once
#include <hdf5.h>

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace twla::h5 {

// Turns off HDF5's stderr error stack printing for this thread; the wrappers report instead.
void quiet();

// One HDF5 identifier, closed with the matching H5?close on destruction.
class Id {
 public:
  using Closer = herr_t (*)(hid_t);
  Id() = default;
  Id(hid_t id, Closer close) : id_(id), close_(close) {}
  ~Id() { reset(); }
  Id(Id&& o) noexcept : id_(o.id_), close_(o.close_) { o.id_ = H5I_INVALID_HID; }
  Id& operator=(Id&& o) noexcept;
  Id(const Id&) = delete;
  Id& operator=(const Id&) = delete;
  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  herr_t reset();  // closes now; returns the close status (0 when nothing was open)

 private:
  hid_t id_ = H5I_INVALID_HID;
  Closer close_ = nullptr;
};

struct Matrix {  // row-major [rows, cols]
  size_t rows = 0, cols = 0;
  std::vector<double> data;
};

// A file or a group: where attributes, datasets and child groups live.
class Location {
 public:
  const std::string& file() const { return file_; }
  const std::string& path() const { return path_; }   // "/" or "/layers"
  hid_t id() const { return id_.get(); }

  bool has(const std::string& name) const;            // a link (group or dataset) named so
  bool is_group(const std::string& name) const;
  Location group(const std::string& name) const;      // opens; Error if missing
  Location create_group(const std::string& name) const;   // tracks creation order
  std::vector<std::string> children() const;           // link names, creation order if tracked
  std::vector<std::string> datasets_below() const;     // relative paths of all datasets, recursive

  bool has_attr(const std::string& name) const;
  std::vector<std::string> attr_names() const;         // creation order if tracked, else by name
  void attr(const std::string& name, const std::string& value) const;   // UTF-8 variable length
  void attr(const std::string& name, const char* value) const { attr(name, std::string(value)); }
  void attr(const std::string& name, double value) const;
  void attr(const std::string& name, long long value) const;
  void attr(const std::string& name, int value) const { attr(name, static_cast<long long>(value)); }
  void attr(const std::string& name, const std::vector<std::string>& values) const;
  std::string attr_string(const std::string& name) const;   // variable or fixed length
  double attr_double(const std::string& name) const;        // any numeric type
  long long attr_int(const std::string& name) const;
  std::vector<std::string> attr_strings(const std::string& name) const;

  // Datasets; names may contain '/', intermediate groups are created.
  void write(const std::string& name, const std::vector<double>& v) const;
  void write(const std::string& name, const std::vector<int>& v) const;
  void write(const std::string& name, const std::vector<std::string>& v) const;
  void write(const std::string& name, const Matrix& m) const;
  std::vector<double> read_doubles(const std::string& name) const;
  std::vector<int> read_ints(const std::string& name) const;
  std::vector<std::string> read_strings(const std::string& name) const;
  Matrix read_matrix(const std::string& name) const;

  // Throws Error "HDF5 file '<file>', <path>: <what>: <HDF5's reason>".
  [[noreturn]] void fail(const std::string& what) const;

 protected:
  Location(Id id, std::string file, std::string path)
      : id_(std::move(id)), file_(std::move(file)), path_(std::move(path)) {}
  std::string sub(const std::string& name) const;
  Id open_dataset(const std::string& name, std::vector<size_t>* dims) const;
  void write_raw(const std::string& name, hid_t file_type, hid_t mem_type,
                 const std::vector<size_t>& dims, const void* data) const;

  Id id_;
  std::string file_, path_;
};

class File : public Location {
 public:
  static File create(const std::string& path);     // truncates an existing file
  static File open_read(const std::string& path);  // Error if missing, not HDF5 or corrupt
  void close();   // flushes; Error if HDF5 cannot finish the file (disk full)

 private:
  using Location::Location;
};

// The innermost message of the current HDF5 error stack ("file signature not found"); clears it.
std::string last_error();

namespace detail {   // shared by hdf5.cpp and hdf5_dataset.cpp
Id make_type_utf8();                 // variable-length UTF-8 string type
Id plist(hid_t cls);                 // a fresh property list of class `cls`
Id link_plist();                     // creates missing parent groups of a new link
hsize_t npoints(hid_t space);
// Reads n strings of file type `ftype` through `read(mem_type, buffer)` (H5Aread or H5Dread).
std::vector<std::string> read_string_array(hid_t ftype, size_t n,
                                           const std::function<herr_t(hid_t, void*)>& read);
}  // namespace detail

}  // namespace twla::h5
