// kernels/tq2_pack.cpp: tq2 pack / validate / unpack, and activation preparation (Tq2Act).
// Not here: the GEMM kernels (tq2_cpu.cpp) and references (tq2_ref.cpp). Layout: tq2.h.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

#include "kernels/tq2.h"
#include "kernels/kernels.h"

namespace twla::kernels {
namespace {

[[noreturn]] void bad(const std::string& m) { throw std::invalid_argument("tq2: " + m); }
int64_t align64(int64_t n) { return (n + 63) / 64 * 64; }

struct Geometry {
  int64_t oc, ic, ic_pad, group_size, n_groups;
  int64_t off_codes, off_alpha, off_mu, off_wsum, total;
};

Geometry geometry(int64_t oc, int64_t ic, int64_t group_size) {
  if (oc < 1 || ic < 1) bad("shape [" + std::to_string(oc) + ", " + std::to_string(ic) + "] must be positive");
  if (group_size <= 0 || group_size >= ic) group_size = ic;
  if (group_size != ic && (group_size % kTq2Block != 0 || ic % group_size != 0))
    bad("group_size=" + std::to_string(group_size) + " with ic=" + std::to_string(ic) +
        " is unsupported: groups must be a multiple of 128 dividing ic, or the whole row (-1)");
  Geometry g{oc, ic, (ic + kTq2Block - 1) / kTq2Block * kTq2Block, group_size, ic / group_size, 0, 0, 0, 0, 0};
  g.off_codes = sizeof(Tq2Header);
  g.off_alpha = align64(g.off_codes + oc * (g.ic_pad / 4));
  g.off_mu = align64(g.off_alpha + oc * g.n_groups * 4);
  g.off_wsum = align64(g.off_mu + oc * g.n_groups * 4);
  g.total = align64(g.off_wsum + oc * 4);
  return g;
}

}  // namespace

size_t tq2_bytes(int64_t oc, int64_t ic, int64_t group_size) { return geometry(oc, ic, group_size).total; }

double tq2_bits_per_weight(int64_t oc, int64_t ic, int64_t group_size) {
  Geometry g = geometry(oc, ic, group_size);
  return 2.0 * g.ic_pad / ic + (64.0 * g.n_groups + 32.0) / ic;
}

std::vector<uint8_t> tq2_pack(const int8_t* codes, const float* alpha, const float* mu, int64_t oc,
                              int64_t ic, int64_t group_size) {
  Geometry g = geometry(oc, ic, group_size);
  std::vector<uint8_t> buf(g.total, 0);
  Tq2Header h{kTq2Magic, kTq2Version, oc, ic, g.ic_pad, g.group_size, g.n_groups, {0, 0}};
  std::memcpy(buf.data(), &h, sizeof h);
  const int64_t rb = g.ic_pad / 4;
  std::vector<double> wsum(oc, 0.0);
  for (int64_t o = 0; o < oc; ++o) {
    uint8_t* row = buf.data() + g.off_codes + o * rb;
    std::memset(row, 0x55, rb);  // u = 1 (t = 0) everywhere, so the pad is zero weight
    for (int64_t k = 0; k < ic; ++k) {
      int t = codes[o * ic + k];
      if (t < -1 || t > 1)
        bad("code " + std::to_string(t) + " at [" + std::to_string(o) + ", " + std::to_string(k) +
            "] is not ternary (-1, 0, 1)");
      int64_t j = k % kTq2Block, s = j / 32;
      uint8_t& byte = row[(k / kTq2Block) * 32 + j % 32];
      byte = uint8_t((byte & ~(3 << (2 * s))) | ((t + 1) << (2 * s)));
      int64_t gi = k / g.group_size;
      wsum[o] += double(mu[o * g.n_groups + gi]) + double(alpha[o * g.n_groups + gi]) * t;
    }
  }
  std::memcpy(buf.data() + g.off_alpha, alpha, oc * g.n_groups * 4);
  std::memcpy(buf.data() + g.off_mu, mu, oc * g.n_groups * 4);
  auto* ws = reinterpret_cast<float*>(buf.data() + g.off_wsum);
  for (int64_t o = 0; o < oc; ++o) ws[o] = float(wsum[o]);
  return buf;
}

Tq2View tq2_view(const uint8_t* buf, size_t n, int64_t expect_oc, int64_t expect_ic) {
  const Tq2Header h = read_packed_header<Tq2Header>(buf, n, kTq2Magic, kTq2Version, "tq2");
  if (h.oc < 1 || h.ic < 1 || h.oc > (int64_t(1) << 40) || h.ic > (int64_t(1) << 40)) bad("corrupt shape in header");
  Geometry g = geometry(h.oc, h.ic, h.group_size);
  if (g.ic_pad != h.ic_pad || g.n_groups != h.n_groups) bad("header fields ic_pad/n_groups are inconsistent");
  if (n < size_t(g.total))
    bad("truncated buffer: " + std::to_string(n) + " bytes, the header's shape needs " + std::to_string(g.total));
  if ((expect_oc >= 0 && expect_oc != h.oc) || (expect_ic >= 0 && expect_ic != h.ic))
    bad("shape mismatch: buffer holds [" + std::to_string(h.oc) + ", " + std::to_string(h.ic) + "], expected [" +
        std::to_string(expect_oc) + ", " + std::to_string(expect_ic) + "]");
  Tq2View v;
  v.oc = h.oc, v.ic = h.ic, v.ic_pad = g.ic_pad, v.group_size = g.group_size, v.n_groups = g.n_groups;
  v.codes = buf + g.off_codes;
  v.alpha = reinterpret_cast<const float*>(buf + g.off_alpha);
  v.mu = reinterpret_cast<const float*>(buf + g.off_mu);
  v.wsum = reinterpret_cast<const float*>(buf + g.off_wsum);
  return v;
}

void tq2_unpack(const Tq2View& w, int8_t* codes, float* alpha, float* mu) {
  if (codes)
    for (int64_t o = 0; o < w.oc; ++o)
      for (int64_t k = 0; k < w.ic; ++k) {
        int t = tq2_code(w, o, k);
        if (t > 1) bad("invalid code 3 at [" + std::to_string(o) + ", " + std::to_string(k) + "]");
        codes[o * w.ic + k] = int8_t(t);
      }
  if (alpha) std::memcpy(alpha, w.alpha, w.oc * w.n_groups * 4);
  if (mu) std::memcpy(mu, w.mu, w.oc * w.n_groups * 4);
}

namespace {
Tq2Act act_shell(const Tq2View& w, int batch) {
  if (batch < 1) bad("batch=" + std::to_string(batch) + " must be >= 1");
  Tq2Act a;
  a.batch = batch, a.ic = w.ic, a.ic_pad = w.ic_pad, a.group_size = w.group_size, a.n_groups = w.n_groups;
  a.q.assign(size_t(batch) * w.ic_pad, 0);
  a.scale.assign(batch, 0.f);
  a.zero.assign(batch, 0.f);
  a.gsum.assign(size_t(batch) * w.n_groups, 0);
  return a;
}
void finish_gsum(Tq2Act& a) {
  for (int b = 0; b < a.batch; ++b)
    for (int64_t k = 0; k < a.ic; ++k) a.gsum[b * a.n_groups + k / a.group_size] += a.q[b * a.ic_pad + k];
}
}  // namespace

Tq2Act tq2_quantize_act(const Tq2View& w, const float* x, int batch, int bits) {
  if (bits < 2 || bits > 8) bad("activation bits=" + std::to_string(bits) + " must be in 2..8");
  Tq2Act a = act_shell(w, batch);
  const float qmax = float((1 << bits) - 1);
  for (int b = 0; b < batch; ++b) {
    const float* xb = x + int64_t(b) * w.ic;
    float lo = 0.f, hi = 0.f;  // the range includes 0 so zero is representable
    for (int64_t k = 0; k < w.ic; ++k) lo = std::min(lo, xb[k]), hi = std::max(hi, xb[k]);
    float s = (hi - lo) / qmax;
    if (!(s > 0)) s = 1.f;
    float z = std::nearbyint(-lo / s);
    a.scale[b] = s, a.zero[b] = z;
    for (int64_t k = 0; k < w.ic; ++k)
      a.q[b * w.ic_pad + k] = uint8_t(std::clamp(std::nearbyint(xb[k] / s) + z, 0.f, qmax));
  }
  finish_gsum(a);
  return a;
}

Tq2Act tq2_act_from_codes(const Tq2View& w, const uint8_t* q, const float* scale, const float* zero, int batch) {
  Tq2Act a = act_shell(w, batch);
  for (int b = 0; b < batch; ++b) {
    std::memcpy(&a.q[b * w.ic_pad], q + int64_t(b) * w.ic, w.ic);
    a.scale[b] = scale[b], a.zero[b] = zero[b];
  }
  finish_gsum(a);
  return a;
}

}  // namespace twla::kernels
