// core/fs.h: files the way results need them: atomic writes (temp + rename), whole-file reads,
// read-only memory maps, sha256 of inputs.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace twla {

std::string read_file(const std::string& path);  // throws Error naming the path
// Writes bytes to path via path.tmp.<pid> + fsync + rename: readers see the old or the new file.
void write_file_atomic(const std::string& path, const std::string& bytes);
// A temp name next to `path` for writers that need a file name (HDF5); rename with commit_temp.
std::string temp_path_for(const std::string& path);
void commit_temp(const std::string& tmp, const std::string& path);
bool file_exists(const std::string& path);
bool dir_exists(const std::string& path);
void make_dirs(const std::string& path);
std::string sha256_file(const std::string& path);
std::string sha256_bytes(const void* data, size_t n);

// A read-only mmap of a whole file; unmapped on destruction.
class MappedFile {
 public:
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace twla
