// quantizers/tq2_convert.cpp: "ternary" PackedWeight <-> tq2 bytes; libtorch on this side only,
// kernels/tq2_pack.cpp does the packing from raw pointers.
#include "quantizers/tq2_convert.h"

#include <stdexcept>

#include "core/error.h"
#include "core/tensor.h"
#include "kernels/tq2.h"

namespace twla {

std::vector<uint8_t> ternary_to_tq2(const PackedWeight& p) {
  TWLA_CHECK(p.format == "ternary", "tq2 needs a \"ternary\" packed weight, got format \"", p.format,
             "\"; quantize with a ternary quantizer");
  TWLA_CHECK(p.shape.size() == 2, "ternary packed weight needs a 2-D shape");
  const int64_t oc = p.shape[0], ic = p.shape[1];
  auto gs_it = p.attrs.find("group_size");
  int64_t gs = gs_it == p.attrs.end() || gs_it->second <= 0 ? ic : gs_it->second;
  TWLA_CHECK(gs == ic || (gs % kernels::kTq2Block == 0 && ic % gs == 0), "group_size=", gs, " with ic=", ic,
             " cannot be stored as tq2: groups must be the whole row or a multiple of 128 dividing ic");
  const int64_t G = ic / gs;
  for (const char* k : {"codes", "alpha", "mu"}) TWLA_CHECK(p.parts.count(k), "ternary packed weight lacks part '", k, "'");
  Tensor codes = p.parts.at("codes").to(at::kChar).contiguous();
  Tensor alpha = p.parts.at("alpha").to(at::kFloat).contiguous();
  Tensor mu = p.parts.at("mu").to(at::kFloat).contiguous();
  check_shape(codes, {oc, ic}, "ternary codes");
  check_shape(alpha, {oc, G}, "ternary alpha");
  check_shape(mu, {oc, G}, "ternary mu");
  try {
    return kernels::tq2_pack(codes.data_ptr<int8_t>(), alpha.data_ptr<float>(), mu.data_ptr<float>(), oc, ic, gs);
  } catch (const std::invalid_argument& e) {
    TWLA_FAIL(e.what());
  }
}

PackedWeight tq2_to_ternary(const uint8_t* buf, size_t n) {
  kernels::Tq2View v;
  try {
    v = kernels::tq2_view(buf, n);
  } catch (const std::invalid_argument& e) {
    TWLA_FAIL(e.what());
  }
  PackedWeight p;
  p.format = "ternary";
  p.shape = {v.oc, v.ic};
  Tensor codes = at::empty({v.oc, v.ic}, at::kChar);
  Tensor alpha = at::empty({v.oc, v.n_groups}, at::kFloat), mu = at::empty({v.oc, v.n_groups}, at::kFloat);
  try {
    kernels::tq2_unpack(v, codes.data_ptr<int8_t>(), alpha.data_ptr<float>(), mu.data_ptr<float>());
  } catch (const std::invalid_argument& e) {
    TWLA_FAIL(e.what());
  }
  p.parts = {{"codes", codes}, {"alpha", alpha}, {"mu", mu}};
  p.attrs["group_size"] = v.n_groups == 1 ? -1 : v.group_size;
  p.bits_per_weight = kernels::tq2_bits_per_weight(v.oc, v.ic, v.group_size);
  return p;
}

}  // namespace twla
