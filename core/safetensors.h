// core/safetensors.h: reads and writes the safetensors format (8-byte header length, JSON header,
// raw little-endian data). Reading is a memory map; tensors are converted on demand, so a model
// larger than RAM is streamed block by block. Not here: HF model folders (model_source.h).
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/fs.h"
#include "core/tensor.h"

namespace twla {

struct StTensorInfo {
  std::string name;
  std::string dtype;             // "F32", "F16", "BF16", "F64", "I64", "I32", "I8", "U8", "BOOL"
  std::vector<int64_t> shape;
  size_t begin = 0, end = 0;     // byte range, relative to the data section
};

class SafetensorsFile {
 public:
  // Throws Error naming the file on: missing file, truncated header, invalid JSON, offsets past
  // the end of the file, a byte range that does not match dtype x shape.
  explicit SafetensorsFile(const std::string& path);
  const std::string& path() const { return map_->path(); }
  std::vector<std::string> names() const;
  bool has(const std::string& name) const { return info_.count(name) > 0; }
  const StTensorInfo& info(const std::string& name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // A copy converted to `to` (bf16/f16 widen exactly to f32).
  Tensor load(const std::string& name, at::ScalarType to = at::kFloat) const;
  // The raw stored dtype, copied.
  Tensor load_raw(const std::string& name) const;
  // The raw stored dtype without a copy: a read-only view of the mapped file that keeps the
  // mapping alive. Its pages are file-backed, so the kernel can drop them under memory pressure
  // and refault them from the file (how calibration keeps finished blocks out of anonymous
  // memory). A copy (load_raw) when the bytes are not aligned to the element size. Never write
  // into it (the mapping is read-only).
  Tensor map_raw(const std::string& name) const;

 private:
  std::shared_ptr<MappedFile> map_;
  size_t data_offset_ = 0;
  std::map<std::string, StTensorInfo> info_;
  std::map<std::string, std::string> metadata_;
};

// Whether t's storage is a map_raw view of a file rather than memory of its own.
bool is_file_view(const Tensor& t);

// Writes tensors and string metadata, atomically, streaming one tensor at a time (a copy only
// of a tensor that is not contiguous or not on the CPU). The data section is ordered by falling
// element size, so every tensor is aligned for map_raw.
void write_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

at::ScalarType st_dtype_to_scalar(const std::string& dtype, const std::string& where);
std::string scalar_to_st_dtype(at::ScalarType t);

}  // namespace twla
