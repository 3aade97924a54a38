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
// The optional column -> group map (attr g_idx = 1: part g_idx, int [ic], values in [0, n_groups)),
// as int64; undefined when the groups are contiguous runs of columns.
Tensor group_map(const PackedWeight& p, int64_t n_groups) {
  auto it = p.attrs.find("g_idx");
  const bool attr = it != p.attrs.end() && it->second != 0;
  TWLA_CHECK(attr == (p.parts.count("g_idx") > 0), "packed weight of format '", p.format, "' has ",
             attr ? "attr g_idx = 1 but no part 'g_idx'" : "a part 'g_idx' but not attr g_idx = 1",
             " (corrupt packed file?); re-pack the model");
  if (!attr) return Tensor();
  Tensor g = p.parts.at("g_idx").to(at::kLong).contiguous();
  const int64_t ic = p.shape.at(1);
  TWLA_CHECK(g.dim() == 1 && g.size(0) == ic, "packed part g_idx has shape ", describe(g), ", expected [", ic, "]");
  TWLA_CHECK(ic == 0 || (g.min().item<int64_t>() >= 0 && g.max().item<int64_t>() < n_groups),
             "packed part g_idx names a group outside [0, ", n_groups, "); re-pack the model");
  return g;
}
// Expands per-group columns [oc, G] to per-weight [oc, ic]: by the g_idx map when stored, else
// runs of gs columns.
Tensor per_column(const PackedWeight& p, const Tensor& g, int64_t ic, int64_t gs) {
  Tensor map = group_map(p, g.size(1));
  if (map.defined()) return g.to(at::kFloat).index_select(1, map);
  return g.to(at::kFloat).repeat_interleave(gs, 1).narrow(1, 0, ic);
}
// "e2m" (quantizers/e2m_atq.h): per block of block_size columns (or, with attr g_idx, the
// columns c with g_idx[c] == block), a group id per element and per-row params per group:
// W = (mu + alpha0 * t0) + alpha1 * t1, the fit's own op order.
Tensor dequantize_e2m(const PackedWeight& p) {
  const int64_t oc = p.shape[0], ic = p.shape[1];
  auto it = p.attrs.find("block_size");
  TWLA_CHECK(it != p.attrs.end() && it->second > 0, "packed weight of format 'e2m' lacks attr block_size");
  const int64_t bs = it->second;
  Tensor group = part(p, "group").to(at::kLong), t0 = part(p, "t0").to(at::kFloat);
  Tensor t1 = part(p, "t1").to(at::kFloat);
  const Tensor &mu = part(p, "mu"), &a0 = part(p, "alpha0"), &a1 = part(p, "alpha1");
  TWLA_CHECK(mu.dim() == 3 && mu.size(0) == oc, "packed 'e2m' part mu has shape ", describe(mu),
             ", expected [", oc, ", blocks, groups]");
  Tensor map = group_map(p, mu.size(1));
  if (map.defined()) {   // params of (row, g_idx[c], group[row, c]): gathered per column
    auto take = [&](const Tensor& par) {
      return par.to(at::kFloat).index_select(1, map).gather(2, group.unsqueeze(2)).squeeze(2);
    };
    return (take(mu) + take(a0) * t0) + take(a1) * t1;
  }
  const int64_t nb = (ic + bs - 1) / bs;
  TWLA_CHECK(mu.size(1) == nb, "packed 'e2m' part mu has shape ", describe(mu), ", expected [", oc, ", ", nb,
             ", groups]");
  Tensor W = at::empty({oc, ic}, at::kFloat);
  for (int64_t b = 0; b < nb; ++b) {
    const int64_t st = b * bs, w = std::min(bs, ic - st);
    Tensor g = group.narrow(1, st, w);
    auto take = [&](const Tensor& par) { return par.select(1, b).to(at::kFloat).gather(1, g); };
    W.narrow(1, st, w).copy_((take(mu) + take(a0) * t0.narrow(1, st, w)) + take(a1) * t1.narrow(1, st, w));
  }
  return W;
}
}  // namespace

Tensor dequantize(const PackedWeight& p) {
  TWLA_CHECK(p.shape.size() == 2, "packed weight has shape of rank ", p.shape.size(), ", expected [oc, ic]");
  const int64_t ic = p.shape[1];
  if (p.format == "dense") return part(p, "W").to(at::kFloat).reshape(p.shape);
  if (p.format == "uniform") {
    int64_t gs = group_size_of(p);
    Tensor codes = part(p, "codes").to(at::kFloat);
    return per_column(p, part(p, "scale"), ic, gs) * (codes - per_column(p, part(p, "zero"), ic, gs));
  }
  if (p.format == "ternary") {
    int64_t gs = group_size_of(p);
    Tensor codes = part(p, "codes").to(at::kFloat);
    return per_column(p, part(p, "mu"), ic, gs) + per_column(p, part(p, "alpha"), ic, gs) * codes;
  }
  if (p.format == "e2m") return dequantize_e2m(p);
  TWLA_FAIL("unknown packed weight format '", p.format, "'; known: dense, uniform, ternary, e2m");
}

}  // namespace twla
