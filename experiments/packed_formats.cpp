// experiments/packed_formats.cpp: see packed_formats.h. The table is at the bottom.
#include "experiments/packed_formats.h"

#include <cstdint>
#include <cstring>
#include <stdexcept>

#include "core/error.h"
#include "core/strings.h"
#include "kernels/e2m.h"
#include "kernels/tq2.h"
#include "quantizers/e2m_convert.h"
#include "quantizers/tq2_convert.h"

namespace twla {

namespace {

const Tensor& array_of(const PackedArrays& a, const std::string& name, const std::string& where) {
  auto it = a.arrays.find(name);
  TWLA_CHECK(it != a.arrays.end(), where, ": array '", name,
             "' is missing; the file is incomplete: re-pack it with `twla pack`");
  return it->second;
}

int64_t tq2_group_size(const PackedWeight& p) {
  auto it = p.attrs.find("group_size");
  return it == p.attrs.end() || it->second <= 0 ? p.shape.at(1) : it->second;
}

// ---- tq2: one byte array "data", the kernel buffer itself (its own header: magic, shape) ----
bool tq2_accepts(const PackedWeight& p) {
  if (p.shape.size() != 2) return false;
  const int64_t ic = p.shape[1], gs = tq2_group_size(p);
  return gs == ic || (gs % kernels::kTq2Block == 0 && ic % gs == 0);
}
PackedArrays tq2_encode(const PackedWeight& p) {
  std::vector<uint8_t> buf = ternary_to_tq2(p);
  Tensor t = at::empty({int64_t(buf.size())}, at::kByte);
  std::memcpy(t.data_ptr<uint8_t>(), buf.data(), buf.size());
  return {{{"data", t}}, {}};
}
PackedWeight tq2_decode(const PackedArrays& a, const std::vector<int64_t>& shape, const std::string& where) {
  Tensor t = array_of(a, "data", where);
  TWLA_CHECK(t.scalar_type() == at::kByte && t.dim() == 1, where, ": array 'data' must be U8 of rank 1, got ",
             describe(t), "; re-pack the model with `twla pack`");
  t = t.contiguous();
  TWLA_CHECK(shape.size() == 2, where, ": shape must be [oc, ic], got ", shape_str(shape));
  try {
    kernels::tq2_view(t.data_ptr<uint8_t>(), size_t(t.numel()), shape[0], shape[1]);
  } catch (const std::invalid_argument& e) {
    TWLA_FAIL(where, ": the tq2 buffer is invalid (", e.what(), "); re-pack the model with `twla pack`");
  }
  return tq2_to_ternary(t.data_ptr<uint8_t>(), size_t(t.numel()));
}

// ---- e2m: one byte array "data", the e2m kernel buffer; attrs groups, block_size (not in the buffer) ----
// A g_idx form (GPTQ-ternary act-order) is stored in its kernel-block layout (e2m_kernel_blocks),
// whose groups and block_size the attrs record, so decoding gives equal weights without g_idx.
PackedArrays e2m_encode(const PackedWeight& p) {
  const PackedWeight k = e2m_kernel_blocks(p);
  const kernels::E2mBuffer buf = e2m_to_kernel(k);
  Tensor t = at::empty({int64_t(buf.bytes.size())}, at::kByte);
  std::memcpy(t.data_ptr<uint8_t>(), buf.bytes.data(), buf.bytes.size());
  return {{{"data", t}}, {{"groups", k.attrs.at("groups")}, {"block_size", k.attrs.at("block_size")}}};
}
PackedWeight e2m_decode(const PackedArrays& a, const std::vector<int64_t>& shape, const std::string& where) {
  Tensor t = array_of(a, "data", where);
  TWLA_CHECK(t.scalar_type() == at::kByte && t.dim() == 1, where, ": array 'data' must be U8 of rank 1, got ",
             describe(t), "; re-pack the model with `twla pack`");
  t = t.contiguous();
  if (reinterpret_cast<uintptr_t>(t.data_ptr()) % 4) t = t.clone();   // the buffer's floats need alignment
  TWLA_CHECK(shape.size() == 2, where, ": shape must be [oc, ic], got ", shape_str(shape));
  for (const char* k : {"groups", "block_size"})
    TWLA_CHECK(a.attrs.count(k), where, ": attr '", k, "' is missing; re-pack the model with `twla pack`");
  try {
    kernels::e2m_view(t.data_ptr<uint8_t>(), size_t(t.numel()), shape[0], shape[1]);
    return e2m_from_kernel(t.data_ptr<uint8_t>(), size_t(t.numel()), a.attrs.at("groups"), a.attrs.at("block_size"));
  } catch (const std::invalid_argument& e) {
    TWLA_FAIL(where, ": the e2m buffer is invalid (", e.what(), "); re-pack the model with `twla pack`");
  } catch (const Error& e) {
    TWLA_FAIL(where, ": the e2m buffer is invalid (", e.what(), "); re-pack the model with `twla pack`");
  }
}

// ---- PackedWeight forms stored part by part (no kernel yet) ----
PackedArrays parts_encode(const PackedWeight& p) { return {p.parts, p.attrs}; }

// `lead`: the part whose first two dims are [oc, ic].
PackedFormat parts_row(const std::string& format, std::vector<std::string> arrays, std::string lead,
                       std::string help) {
  PackedFormat f;
  f.name = "parts-" + format;   // the short names stay free for kernel formats (tq2, e2m, ...)
  f.help = std::move(help);
  f.from = format;
  f.arrays = arrays;
  f.accepts = [](const PackedWeight&) { return true; };
  f.encode = parts_encode;
  f.decode = [format, arrays, lead](const PackedArrays& a, const std::vector<int64_t>& shape,
                                    const std::string& where) {
    PackedWeight p;
    p.format = format;
    p.shape = shape;
    p.attrs = a.attrs;
    for (const auto& n : arrays) p.parts[n] = array_of(a, n, where);
    for (const auto& [n, t] : a.arrays) p.parts[n] = t;
    const Tensor& l = p.parts.at(lead);
    TWLA_CHECK(shape.size() == 2 && l.dim() >= 2 && l.size(0) == shape[0] && l.size(1) == shape[1], where,
               ": array '", lead, "' has shape ", describe(l), ", but the linear's shape is ",
               shape_str(shape), "; re-pack the model with `twla pack`");
    return p;
  };
  return f;
}

// A row executed by a packed kernel: one array "data", the kernel buffer itself.
PackedFormat kernel_row(const char* name, const char* from, const char* help,
                        decltype(PackedFormat::accepts) accepts, decltype(PackedFormat::encode) encode,
                        decltype(PackedFormat::decode) decode) {
  PackedFormat f;
  f.name = name;
  f.help = help;
  f.from = from;
  f.kernel = true;
  f.arrays = {"data"};
  f.accepts = std::move(accepts);
  f.encode = std::move(encode);
  f.decode = std::move(decode);
  return f;
}

std::vector<PackedFormat> make_table() {
  return {
      kernel_row("tq2", "ternary",
                 "ternary weights as the tq2 kernel buffer (kernels/tq2.h): 2 bits/weight + fp32 alpha, mu, wsum",
                 tq2_accepts, tq2_encode, tq2_decode),
      kernel_row("e2m", "e2m",
                 "E2M-ATQ / GPTQ-ternary weights as the e2m kernel buffer (kernels/e2m.h): 3-bit codes, a "
                 "second plane for salient columns, 10 fp32 params per row and 128 columns (~5.9 bits/weight)",
                 e2m_kernel_supports, e2m_encode, e2m_decode),
      parts_row("ternary", {"codes", "alpha", "mu"}, "codes",
                "ternary codes int8 + alpha, mu per group (group sizes tq2 cannot hold)"),
      parts_row("e2m", {"group", "t0", "t1", "mu", "alpha0", "alpha1"}, "group",
                "E2M-ATQ packed form (quantizers/e2m_atq.h) with block sizes the e2m kernels cannot hold"),
      parts_row("uniform", {"codes", "scale", "zero"}, "codes", "integer codes + scale, zero per group"),
      parts_row("dense", {"W"}, "W", "a dense weight (rotated, not quantized)"),
  };
}

}  // namespace

const std::vector<PackedFormat>& packed_formats() {
  static const std::vector<PackedFormat> t = make_table();
  return t;
}

const PackedFormat* find_packed_format(const std::string& name) {
  for (const auto& f : packed_formats())
    if (f.name == name) return &f;
  return nullptr;
}

std::vector<std::string> packed_format_names() {
  std::vector<std::string> out;
  for (const auto& f : packed_formats()) out.push_back(f.name);
  return out;
}

const PackedFormat& choose_packed_format(const PackedWeight& p, const std::string& linear) {
  for (const auto& f : packed_formats())
    if (f.from == p.format && f.accepts(p)) return f;
  TWLA_FAIL("packing '", linear, "': no packed format stores PackedWeight format '", p.format,
            "'; add a row to experiments/packed_formats.cpp (known: ", join(packed_format_names(), ", "), ")");
}

}  // namespace twla
