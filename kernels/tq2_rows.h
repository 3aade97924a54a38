// kernels/tq2_rows.h: internal to the tq2 CPU kernels (tq2_cpu.cpp, tq2_avx512.cpp): the row-tile
// driver shared by the SIMD paths, the integer-activation finisher, and the AVX-512 entry points.
// Not a public API: callers use tq2.h.
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

#include "kernels/tq2.h"

namespace twla::kernels::detail {

// Rows [o0, o1) in tiles of kTile rows; per tile, tokens in chunks of at most MAXB; per token
// chunk, K in chunks whose activations fit in ~24 KiB of L1. row(nb, o, b0, k0, k1, out) adds into
// out[nb] (alpha_g * the partial dot over blocks [k0, k1)); finish(o, b, partial) writes y.
constexpr int64_t kTile = 32;
template <int MAXB, class RowFn, class Finish>
void drive(const Tq2View& w, int batch, int xbytes, int64_t o0, int64_t o1, RowFn&& row, Finish&& finish) {
  const int64_t nblk = w.ic_pad / kTq2Block;
  std::vector<double> out(kTile * batch);
  for (int64_t t0 = o0; t0 < o1; t0 += kTile) {
    const int64_t t1 = std::min(o1, t0 + kTile);
    std::fill(out.begin(), out.end(), 0.0);
    for (int b0 = 0; b0 < batch; b0 += MAXB) {
      const int nb = std::min(MAXB, batch - b0);
      const int64_t kc = std::max<int64_t>(1, (24 << 10) / (int64_t(nb) * kTq2Block * xbytes));
      for (int64_t k0 = 0; k0 < nblk; k0 += kc)
        for (int64_t o = t0; o < t1; ++o) row(nb, o, b0, k0, std::min(nblk, k0 + kc), &out[(o - t0) * batch + b0]);
    }
    for (int64_t o = t0; o < t1; ++o)
      for (int b = 0; b < batch; ++b) finish(o, b, out[(o - t0) * batch + b]);
  }
}

// Integer activations: part = sum_g alpha_g A_g (A = sum q u, u = t + 1); adds the whole-group
// terms (sum q t = A - Q) and the zero point, and writes y[b, o].
inline void act_finish(const Tq2View& w, const Tq2Act& a, float* y, int64_t o, int b, double part) {
  const int64_t G = w.n_groups;
  for (int64_t g = 0; g < G; ++g) part += (double(w.mu[o * G + g]) - w.alpha[o * G + g]) * a.gsum[b * G + g];
  y[b * w.oc + o] = float(a.scale[b] * (part - double(a.zero[b]) * w.wsum[o]));
}

// Activation codes rearranged for 64-byte loads: for pair p of blocks (2p, 2p + 1), token b and
// slice s = 0..3, 64 bytes at p * stride + 256 b + 64 s hold q_b[256p + 32s, +32) then
// q_b[256p + 128 + 32s, +32): the partners of the codes at bits 2s..2s+1 of the pair's 64 code
// bytes. Tokens are adjacent so one pointer serves a chunk of them. Zero-padded to a whole pair.
struct Tq2PairAct {
  int64_t stride = 0;  // bytes per pair: 256 * batch
  std::vector<uint8_t> q;
};
Tq2PairAct tq2_pair_act(const Tq2Act& a);

// The AVX-512 (AVX512BW + AVX512-VNNI) integer kernel on rows [o0, o1); needs cpu_has_avx512_vnni().
void rows_act_avx512(const Tq2View& w, const Tq2Act& a, const Tq2PairAct& p, float* y, int64_t o0, int64_t o1);

}  // namespace twla::kernels::detail
