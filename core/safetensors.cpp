// core/safetensors.cpp: see safetensors.h. Format: huggingface/safetensors README.
#include "core/safetensors.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "core/error.h"

namespace twla {

at::ScalarType st_dtype_to_scalar(const std::string& d, const std::string& where) {
  if (d == "F32") return at::kFloat;
  if (d == "F16") return at::kHalf;
  if (d == "BF16") return at::kBFloat16;
  if (d == "F64") return at::kDouble;
  if (d == "I64") return at::kLong;
  if (d == "I32") return at::kInt;
  if (d == "I16") return at::kShort;
  if (d == "I8") return at::kChar;
  if (d == "U8") return at::kByte;
  if (d == "BOOL") return at::kBool;
  TWLA_FAIL(where, ": unsupported safetensors dtype '", d,
            "'; twla reads F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL");
}

std::string scalar_to_st_dtype(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return "F32";
    case at::kHalf: return "F16";
    case at::kBFloat16: return "BF16";
    case at::kDouble: return "F64";
    case at::kLong: return "I64";
    case at::kInt: return "I32";
    case at::kShort: return "I16";
    case at::kChar: return "I8";
    case at::kByte: return "U8";
    case at::kBool: return "BOOL";
    default: TWLA_ASSERT(false, "no safetensors dtype for ", c10::toString(t));
  }
  return "";
}

SafetensorsFile::SafetensorsFile(const std::string& path) {
  TWLA_CHECK(file_exists(path), "safetensors file '", path, "' does not exist");
  map_ = std::make_shared<MappedFile>(path);
  const size_t fsize = map_->size();
  TWLA_CHECK(fsize >= 8, "safetensors file '", path, "' is truncated (", fsize,
             " bytes, no header); re-download or re-convert it");
  uint64_t hlen = 0;
  std::memcpy(&hlen, map_->data(), 8);
  TWLA_CHECK(hlen <= fsize - 8, "safetensors file '", path, "' is truncated or corrupt: header of ",
             hlen, " bytes does not fit in ", fsize, " bytes; re-download or re-convert it");
  data_offset_ = 8 + hlen;
  nlohmann::json h;
  try {
    h = nlohmann::json::parse(map_->data() + 8, map_->data() + 8 + hlen);
  } catch (const std::exception& e) {
    TWLA_FAIL("safetensors file '", path, "' has a corrupt JSON header (", e.what(),
              "); re-download or re-convert it");
  }
  TWLA_CHECK(h.is_object(), "safetensors file '", path, "': header is not a JSON object");
  const size_t data_size = fsize - data_offset_;
  for (auto it = h.begin(); it != h.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (it->is_object())
        for (auto m = it->begin(); m != it->end(); ++m)
          if (m->is_string()) metadata_[m.key()] = m->get<std::string>();
      continue;
    }
    const std::string where = "safetensors file '" + path + "', tensor '" + it.key() + "'";
    try {
      StTensorInfo ti;
      ti.name = it.key();
      ti.dtype = it->at("dtype").get<std::string>();
      ti.shape = it->at("shape").get<std::vector<int64_t>>();
      auto off = it->at("data_offsets").get<std::vector<size_t>>();
      TWLA_CHECK(off.size() == 2 && off[0] <= off[1], where, ": bad data_offsets");
      ti.begin = off[0];
      ti.end = off[1];
      TWLA_CHECK(ti.end <= data_size, where, ": data ends at byte ", ti.end,
                 " but the file holds only ", data_size, " data bytes (truncated file?)");
      int64_t numel = 1;
      for (int64_t d : ti.shape) numel *= d;
      size_t esize = at::elementSize(st_dtype_to_scalar(ti.dtype, where));
      TWLA_CHECK(size_t(numel) * esize == ti.end - ti.begin, where, ": ", ti.end - ti.begin,
                 " bytes for shape ", shape_str(ti.shape), " of ", ti.dtype);
      info_[ti.name] = ti;
    } catch (const nlohmann::json::exception& e) {
      TWLA_FAIL(where, ": malformed entry (", e.what(), ")");
    }
  }
}

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> n;
  for (const auto& kv : info_) n.push_back(kv.first);
  return n;
}

const StTensorInfo& SafetensorsFile::info(const std::string& name) const {
  auto it = info_.find(name);
  TWLA_CHECK(it != info_.end(), "tensor '", name, "' is not in '", path(), "'");
  return it->second;
}

Tensor SafetensorsFile::load_raw(const std::string& name) const {
  const auto& ti = info(name);
  auto st = st_dtype_to_scalar(ti.dtype, path());
  Tensor t = at::empty(ti.shape, at::TensorOptions().dtype(st));
  std::memcpy(t.data_ptr(), map_->data() + data_offset_ + ti.begin, ti.end - ti.begin);
  return t;
}

namespace {
// The context of a map_raw view: the mapping it keeps alive.
void release_file_view(void* ctx) { delete static_cast<std::shared_ptr<MappedFile>*>(ctx); }
}  // namespace

Tensor SafetensorsFile::map_raw(const std::string& name) const {
  const auto& ti = info(name);
  auto st = st_dtype_to_scalar(ti.dtype, path());
  const uint8_t* p = map_->data() + data_offset_ + ti.begin;
  if (ti.end == ti.begin || reinterpret_cast<uintptr_t>(p) % at::elementSize(st) != 0) return load_raw(name);
  auto* ctx = new std::shared_ptr<MappedFile>(map_);
  return at::for_blob(const_cast<uint8_t*>(p), ti.shape)
      .context(ctx, &release_file_view)
      .options(at::TensorOptions().dtype(st))
      .make_tensor();
}

bool is_file_view(const Tensor& t) {
  return t.defined() && t.has_storage() && t.storage().data_ptr().get_deleter() == &release_file_view;
}

Tensor SafetensorsFile::load(const std::string& name, at::ScalarType to) const {
  Tensor raw = load_raw(name);
  return raw.scalar_type() == to ? raw : raw.to(to);
}

void write_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  nlohmann::json h = nlohmann::json::object();
  if (!metadata.empty()) h["__metadata__"] = metadata;
  // Data in order of falling element size (then name): with the header padded to 8 bytes every
  // tensor starts aligned to its element size, so map_raw can view it in place.
  std::vector<std::pair<std::string, Tensor>> order(tensors.begin(), tensors.end());
  std::stable_sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
    return a.second.element_size() > b.second.element_size();
  });
  size_t off = 0;
  for (const auto& [name, t] : order) {
    size_t n = t.numel() * t.element_size();
    h[name] = {{"dtype", scalar_to_st_dtype(t.scalar_type())},
               {"shape", t.sizes().vec()},
               {"data_offsets", {off, off + n}}};
    off += n;
  }
  std::string header = h.dump();
  while ((header.size() % 8) != 0) header += ' ';
  uint64_t hl = header.size();
  const std::string tmp = temp_path_for(path);
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    TWLA_CHECK(f, "cannot write '", tmp, "': ", std::strerror(errno),
               "; check that the directory exists and is writable");
    f.write(reinterpret_cast<const char*>(&hl), 8);
    f.write(header.data(), std::streamsize(header.size()));
    for (const auto& [name, t0] : order) {
      Tensor t = t0.contiguous().cpu();
      f.write(static_cast<const char*>(t.data_ptr()), std::streamsize(t.numel() * t.element_size()));
    }
    TWLA_CHECK(f.good(), "write to '", tmp, "' failed (disk full?)");
  }
  commit_temp(tmp, path);
}

}  // namespace twla
