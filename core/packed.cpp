// core/packed.cpp: dequantize() for every PackedWeight format of core/types.h. The kernel
// backend (kernels/) executes the same layouts without dequantizing.
#include "core/error.h"
#include "core/types.h"

namespace twla {

namespace {
int64_t group_size_of(const PackedWeight& p) {
  auto it = p.attrs.find("group_size");
  int64_t g = it == p.attrs.end() ? -1 : it->second;
  return g <= 0 ? p.shape.at(1) : g;
}
const Tensor& part(const PackedWeight& p, const char* name) {
  auto it = p.parts.find(name);
  TWLA_CHECK(it != p.parts.end(), "packed weight of format '", p.format, "' lacks part '", name,
             "' (corrupt or truncated packed file?)");
  return it->second;
}
// Expands per-group columns [oc, G] to per-weight [oc, ic].
Tensor per_column(const Tensor& g, int64_t ic, int64_t gs) {
  return g.to(at::kFloat).repeat_interleave(gs, 1).narrow(1, 0, ic);
}
}  // namespace

Tensor dequantize(const PackedWeight& p) {
  TWLA_CHECK(p.shape.size() == 2, "packed weight has shape of rank ", p.shape.size(), ", expected [oc, ic]");
  const int64_t ic = p.shape[1];
  if (p.format == "dense") return part(p, "W").to(at::kFloat).reshape(p.shape);
  if (p.format == "uniform") {
    int64_t gs = group_size_of(p);
    Tensor codes = part(p, "codes").to(at::kFloat);
    return per_column(part(p, "scale"), ic, gs) * (codes - per_column(part(p, "zero"), ic, gs));
  }
  if (p.format == "ternary") {
    int64_t gs = group_size_of(p);
    Tensor codes = part(p, "codes").to(at::kFloat);
    return per_column(part(p, "mu"), ic, gs) + per_column(part(p, "alpha"), ic, gs) * codes;
  }
  TWLA_FAIL("unknown packed weight format '", p.format, "'; known: dense, uniform, ternary");
}

}  // namespace twla
