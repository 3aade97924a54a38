// experiments/packed_formats.h: how one quantized linear is stored in a packed model
// (docs/PACKED_FORMAT.md): a format is a name, its named arrays (byte or float tensors) and
// integer attrs. One table: kernel formats first (`tq2`, `e2m`: the buffers kernels/tq2.h and
// kernels/e2m.h execute), then the PackedWeight forms of core/types.h stored part by part
// (`parts-<format>`), for the weights no kernel format takes.
// Adding a kernel format is one row: encode from its PackedWeight, decode back.
// Not here: the file itself (packed_model.h), the kernels (kernels/).
#pragma once
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/types.h"

namespace twla {

struct PackedArrays {
  std::map<std::string, Tensor> arrays;
  std::map<std::string, int64_t> attrs;
};

struct PackedFormat {
  std::string name;    // stored as linears.<linear>.format
  std::string help;
  std::string from;    // the PackedWeight format (core/types.h) it stores
  bool kernel = false; // executed by a packed kernel with `backend: kernel`
  std::vector<std::string> arrays;   // the arrays decode needs
  // False when this PackedWeight cannot take the format (e.g. tq2's group sizes); the next row is tried.
  std::function<bool(const PackedWeight&)> accepts;
  std::function<PackedArrays(const PackedWeight&)> encode;
  // Back to the PackedWeight the model executes. where: "file: linears.<name>" for errors; the
  // result's shape is checked against `shape` by the caller.
  std::function<PackedWeight(const PackedArrays&, const std::vector<int64_t>& shape, const std::string& where)> decode;
};

// The one table, in order of preference.
const std::vector<PackedFormat>& packed_formats();
// Null when unknown.
const PackedFormat* find_packed_format(const std::string& name);
// The first row whose `from` is p.format and that accepts p; Error when none does.
const PackedFormat& choose_packed_format(const PackedWeight& p, const std::string& linear);
std::vector<std::string> packed_format_names();

}  // namespace twla
