// quantizers/gptq.cpp: see gptq.h. fp32 throughout, in the reference's op order: the in-block
// rank-1 updates are exact fp32 products and differences (rows are independent, so the loop runs
// on chunks of rows, transposed so that the rows are the vector lanes, without changing a bit), the
// lazy update is one in-place BLAS product per block. No per-column tensor ops: the in-block loop
// is plain code over raw tiles, built for AVX2 and baseline x86-64 (target_clones; no FMA, so the
// same IEEE operations either way). chol(H^-1) by the reference's sequence or, by default, by
// inverse_cholesky_upper_direct (hessian.h: half the flops, the same factor up to rounding).
#include "quantizers/gptq.h"

// v8 helpers are internal (inlined); their ABI note does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"

#include <ATen/Parallel.h>

#include <cmath>
#include <cstring>

#include "core/error.h"
#include "quantizers/e2m_atq.h"
#include "quantizers/hessian.h"
#include "quantizers/row_clones.h"

namespace twla {

namespace {
struct Grid {
  Tensor scale, zero;   // [oc] fp32
};

// quant.py Quantizer.find_params(x, weight=True) with perchannel=True, mse=False.
Grid find_params(const Tensor& x, int64_t maxq, bool sym, bool trits) {
  Tensor tmp = at::zeros({x.size(0)}, at::kFloat);
  Tensor xmin = at::minimum(std::get<0>(x.min(1)), tmp);
  Tensor xmax = at::maximum(std::get<0>(x.max(1)), tmp);
  if (sym) {
    xmax = at::maximum(at::abs(xmin), xmax);
    xmin = at::where(xmin < 0, -xmax, xmin);
  }
  Tensor both0 = (xmin == 0).logical_and(xmax == 0);
  xmin = at::where(both0, at::full_like(xmin, -1), xmin);
  xmax = at::where(both0, at::full_like(xmax, 1), xmax);
  Grid g;
  if (trits) {
    g.scale = xmax;
    g.zero = xmin;
  } else {
    g.scale = (xmax - xmin) / static_cast<double>(maxq);
    g.zero = sym ? at::full_like(g.scale, static_cast<double>(maxq + 1) / 2)
                 : at::round(-xmin / g.scale);
  }
  g.scale = g.scale.contiguous();
  g.zero = g.zero.contiguous();
  return g;
}

// quant.py quantize() for one element; returns q and writes the integer code (as a float).
template <bool kTrits>
TWLA_INLINE float quantize_one(float x, float scale, float zero, float maxq, float& code) {
  if (kTrits) {
    const bool hi = x > scale / 2, lo = x < zero / 2;
    code = hi ? 1.f : (lo ? -1.f : 0.f);
    return static_cast<float>(hi) * scale + static_cast<float>(lo) * zero;
  }
  float q = std::nearbyint(x / scale) + zero;   // torch.round: half to even
  q = std::min(std::max(q, 0.f), maxq);
  code = q;
  return scale * (q - zero);
}

typedef float v8 __attribute__((vector_size(32)));

// Rows per chunk of the in-block loop: a [128, 64] fp32 tile is 32 KiB.
constexpr int64_t kRows = 64;

// One chunk's tiles, transposed: element i * kRows + rr is column i of row r0 + rr.
struct Tiles {
  float *w, *q, *loss, *err, *code, *fed;   // fed: the trace's W before quantization, or null
};

// Quantizes column i of the first n rows of the chunk (lanes >= n are left alone).
template <bool kTrits, int64_t kN>
TWLA_INLINE void quantize_column(const Tiles& t, int64_t i, int64_t n, float d, const float* s,
                                 const float* z, float maxq) {
  const int64_t o = i * kRows, m = kN > 0 ? kN : n;
  for (int64_t rr = 0; rr < m; ++rr) {
    const float x = t.w[o + rr];
    float c;
    const float q = quantize_one<kTrits>(x, s[rr], z[rr], maxq, c);
    t.q[o + rr] = q;
    t.code[o + rr] = c;
    t.loss[o + rr] = ((x - q) * (x - q)) / (d * d) / 2;
    t.err[o + rr] = (x - q) / d;
  }
}

// GPTQ's in-block loop for one chunk of n <= kRows rows starting at row r0: U1 [count, count]
// row-major (upper triangle read). sc/zr: per column, the grid's scale/zero arrays indexed by
// row. Column i is quantized for every row of the chunk at once, then the rank-1 update
// w[j] -= e * U1[i][j] (a product then a difference, as the reference; no FMA in either clone)
// runs over j > i with the rows as vector lanes, so no dependency chain runs along a row.
// Every element sees the reference's operations in its order: the same bits as the plain loop.
// Lanes >= n hold zeros (err 0), so their updates are no-ops.
template <bool kTrits>
TWLA_CLONES void gptq_block_chunk(const Tiles& t, const float* __restrict u, int64_t count,
                                  const float* const* sc, const float* const* zr, int64_t r0,
                                  int64_t n, float maxq) {
  for (int64_t i = 0; i < count; ++i) {
    const float d = u[i * count + i];
    if (t.fed) std::memcpy(t.fed + i * kRows, t.w + i * kRows, sizeof(float) * kRows);
    if (n == kRows)
      quantize_column<kTrits, kRows>(t, i, n, d, sc[i] + r0, zr[i] + r0, maxq);
    else
      quantize_column<kTrits, 0>(t, i, n, d, sc[i] + r0, zr[i] + r0, maxq);
    v8 e[kRows / 8];
    std::memcpy(e, t.err + i * kRows, sizeof e);
    for (int64_t j = i + 1; j < count; ++j) {
      const float a = u[i * count + j];
      float* y = t.w + j * kRows;
      for (int64_t v = 0; v < kRows / 8; ++v) {
        v8 yv;
        std::memcpy(&yv, y + 8 * v, sizeof yv);
        yv = yv - e[v] * a;
        std::memcpy(y + 8 * v, &yv, sizeof yv);
      }
    }
  }
}

}  // namespace

void validate(const GptqConfig& c, const std::string& path) {
  TWLA_CHECK(c.ternary || (c.bits >= 2 && c.bits <= 8), path, ".bits=", c.bits,
             " is out of range; use 2..8 or ternary: true");
  TWLA_CHECK(c.group_size == -1 || c.group_size > 0, path, ".group_size=", c.group_size,
             " must be -1 (whole row) or positive");
  TWLA_CHECK(c.blocksize > 0, path, ".blocksize=", c.blocksize, " must be positive (default 128)");
  TWLA_CHECK(c.percdamp >= 0, path, ".percdamp=", c.percdamp, " must be >= 0 (default 0.01)");
}

GptqOutput gptq_quantize(const Tensor& W_orig, const Tensor& H_orig, const GptqConfig& cfg,
                         const std::string& layer, bool keep_trace) {
  validate(cfg, "gptq");
  TWLA_CHECK(W_orig.dim() == 2, "gptq: weight of layer '", layer, "' has shape ", describe(W_orig),
             ", expected [oc, ic]");
  const int64_t oc = W_orig.size(0), ic = W_orig.size(1);
  check_shape(H_orig, {ic, ic}, "H of layer '" + layer + "'");
  check_finite(W_orig, "weight", layer);
  check_finite(H_orig, "H", layer);
  const bool trits = cfg.ternary;
  const int64_t maxq = trits ? -1 : (int64_t{1} << cfg.bits) - 1;
  const int64_t gs = cfg.group_size > 0 ? std::min<int64_t>(cfg.group_size, ic) : -1;
  const bool statik = cfg.static_groups && gs > 0;

  GptqOutput out;
  Tensor W = W_orig.to(at::kFloat).clone();
  Tensor H = H_orig.to(at::kFloat).clone();
  // Per-row grid from the raw W, before the dead-column fix (as fasterquant does).
  Grid row_grid = find_params(W, maxq, cfg.sym, trits);
  out.dead = fix_dead_columns(H, W);

  const int64_t G = gs > 0 ? (ic + gs - 1) / gs : 1;
  std::vector<Grid> grids(G);
  if (gs <= 0) grids[0] = row_grid;
  if (statik)
    for (int64_t g = 0; g < G; ++g)
      grids[g] = find_params(W.narrow(1, g * gs, std::min(gs, ic - g * gs)), maxq, cfg.sym, trits);

  Tensor perm = at::arange(ic, at::kLong);
  if (cfg.act_order) {
    perm = at::argsort(at::diag(H), /*dim=*/0, /*descending=*/true);
    W = W.index_select(1, perm);
    H = H.index_select(0, perm).index_select(1, perm);
  }
  const int64_t* pperm = perm.data_ptr<int64_t>();
  out.damp = damp_hessian(H, cfg.percdamp);
  if (keep_trace) out.H_damped = H.clone();
  Tensor U = cfg.hinv_reference ? inverse_cholesky_upper(H, layer, cfg.percdamp)
                                : inverse_cholesky_upper_direct(H, layer, cfg.percdamp);

  // group of processing position k
  std::vector<int64_t> group_of(ic, 0);
  for (int64_t k = 0; k < ic; ++k)
    group_of[k] = gs <= 0 ? 0 : (statik ? pperm[k] / gs : k / gs);

  Tensor Q = at::empty_like(W), codes = at::empty({oc, ic}, at::kLong);
  Tensor Losses = at::empty_like(W), W_fed = keep_trace ? at::empty_like(W) : Tensor();
  const float fmaxq = static_cast<float>(maxq);
  float *pQ = Q.data_ptr<float>(), *pL = Losses.data_ptr<float>();
  float* pF = keep_trace ? W_fed.data_ptr<float>() : nullptr;
  int64_t* pC = codes.data_ptr<int64_t>();
  for (int64_t i1 = 0; i1 < ic; i1 += cfg.blocksize) {
    const int64_t i2 = std::min(i1 + cfg.blocksize, ic), count = i2 - i1;
    // Dynamic groups are fitted when their first column is reached, on W as of the block start
    // (the whole-W slice: earlier blocks' feedback, not this block's).
    if (gs > 0 && !statik)
      for (int64_t k = i1; k < i2; ++k)
        if (k % gs == 0) grids[k / gs] = find_params(W.narrow(1, k, std::min(gs, ic - k)), maxq, cfg.sym, trits);
    Tensor U1 = U.narrow(0, i1, count).narrow(1, i1, count).contiguous();
    Tensor E1 = at::empty({oc, count}, at::kFloat);                 // err / U_jj
    std::vector<const float*> sc(count), zr(count);
    for (int64_t i = 0; i < count; ++i) {
      sc[i] = grids[group_of[i1 + i]].scale.data_ptr<float>();
      zr[i] = grids[group_of[i1 + i]].zero.data_ptr<float>();
    }
    const float* pW = W.data_ptr<float>();
    const float* pu = U1.data_ptr<float>();
    float* pe = E1.data_ptr<float>();
    // Chunks of kRows rows are independent: each runs the whole column loop on its own tiles,
    // read from W and written back to Q, codes, Losses (and the trace) in place.
    const int64_t n_chunks = (oc + kRows - 1) / kRows;
    at::parallel_for(0, n_chunks, 1, [&](int64_t c0, int64_t c1) {
      const int64_t tile = count * kRows;
      std::vector<float> buf(6 * tile);
      Tiles t{buf.data(), buf.data() + tile, buf.data() + 2 * tile, buf.data() + 3 * tile,
              buf.data() + 4 * tile, pF ? buf.data() + 5 * tile : nullptr};
      for (int64_t ch = c0; ch < c1; ++ch) {
        const int64_t r0 = ch * kRows, n = std::min(kRows, oc - r0);
        std::fill(buf.begin(), buf.end(), 0.f);
        for (int64_t rr = 0; rr < n; ++rr)
          for (int64_t i = 0; i < count; ++i) t.w[i * kRows + rr] = pW[(r0 + rr) * ic + i1 + i];
        if (trits)
          gptq_block_chunk<true>(t, pu, count, sc.data(), zr.data(), r0, n, fmaxq);
        else
          gptq_block_chunk<false>(t, pu, count, sc.data(), zr.data(), r0, n, fmaxq);
        for (int64_t rr = 0; rr < n; ++rr) {
          const int64_t o = (r0 + rr) * ic + i1;
          for (int64_t i = 0; i < count; ++i) {
            const int64_t k = i * kRows + rr;
            pQ[o + i] = t.q[k];
            pL[o + i] = t.loss[k];
            pC[o + i] = static_cast<int64_t>(t.code[k]);
            pe[(r0 + rr) * count + i] = t.err[k];
            if (pF) pF[o + i] = t.fed[k];
          }
        }
      }
    });
    // The lazy update of all later columns: one GEMM, accumulated into W in place
    // (W[:, i2:] += -1 * E1 U[i1:i2, i2:]; the same fp32 values as W - E1 U).
    // On one OpenBLAS thread: Haswell's sgemm gave other bits at 2 threads (OneBlasThread).
    if (i2 < ic) {
      OneBlasThread one;
      W.narrow(1, i2, ic - i2).addmm_(E1, U.narrow(0, i1, count).narrow(1, i2, ic - i2), 1, -1);
    }
  }
  {
    Tensor rows = Losses.sum(1).to(at::kDouble).contiguous();
    const double* p = rows.data_ptr<double>();
    for (int64_t r = 0; r < oc; ++r) out.error += p[r];
  }
  if (cfg.act_order) {
    Tensor invperm = at::argsort(perm);
    out.Q = Q.index_select(1, invperm);
    out.codes = codes.index_select(1, invperm);
  } else {
    out.Q = Q;
    out.codes = codes;
  }
  out.perm = perm;
  out.g_idx = at::empty({ic}, at::kLong);
  int64_t* pg = out.g_idx.data_ptr<int64_t>();
  for (int64_t k = 0; k < ic; ++k) pg[pperm[k]] = group_of[k];
  std::vector<Tensor> sc, zr;
  for (const auto& g : grids) {
    sc.push_back(g.scale);
    zr.push_back(g.zero);
  }
  out.scale = at::stack(sc, 1);
  out.zero = at::stack(zr, 1);
  if (keep_trace) {
    out.Hinv = U;
    out.W_fed = W_fed;
    out.Losses = Losses;
  }
  return out;
}

PackedWeight gptq_pack(const GptqOutput& o, const GptqConfig& cfg) {
  const int64_t oc = o.Q.size(0), ic = o.Q.size(1), G = o.scale.size(1);
  const int64_t gs = cfg.group_size > 0 ? std::min<int64_t>(cfg.group_size, ic) : ic;
  // Contiguous groups: original column c is in group c / gs (or 0 per row). Otherwise (act-order
  // with dynamic groups) the group of column c is g_idx[c], stored as an int32 part [ic].
  const bool contiguous =
      G == 1 || at::equal(o.g_idx, at::arange(ic, at::kLong).div(gs, "floor"));
  // Honest storage: codes, fp16 params per row and group, plus the int32 g_idx (32 bits per
  // column, shared by the rows) when the groups are not contiguous.
  const double gidx_bits = contiguous ? 0.0 : 32.0 / static_cast<double>(oc);
  PackedWeight p;
  p.shape = {oc, ic};
  if (!cfg.ternary) {
    p.format = "uniform";
    p.parts = {{"codes", o.codes.to(at::kByte)}, {"scale", o.scale}, {"zero", o.zero}};
    p.attrs = {{"group_size", G == 1 ? -1 : gs}};
    // zero is an integer in [0, 2^bits - 1]: `bits` bits; scale fp16.
    p.bits_per_weight = cfg.bits + static_cast<double>(G) * (16.0 + cfg.bits) / ic + gidx_bits;
  } else {
    // One order-2 group per block: 0 + max * [code == 1] + min * [code == -1]; the "blocks" are
    // GPTQ's groups (block b holds the columns c with g_idx[c] == b when g_idx is stored).
    p.format = "e2m";
    p.parts = {{"group", at::zeros({oc, ic}, at::kByte)},
               {"t0", o.codes.eq(1).to(at::kChar)},
               {"t1", o.codes.eq(-1).to(at::kChar)},
               {"mu", at::zeros({oc, G, 1}, at::kFloat)},
               {"alpha0", o.scale.reshape({oc, G, 1}).contiguous()},
               {"alpha1", o.zero.reshape({oc, G, 1}).contiguous()}};
    p.attrs = {{"block_size", G == 1 ? ic : gs}, {"groups", 1}};
    p.bits_per_weight = 8.0 / 5.0 + static_cast<double>(G) * 32.0 / ic + gidx_bits;
  }
  if (!contiguous) {
    p.parts["g_idx"] = o.g_idx.to(at::kInt);
    p.attrs["g_idx"] = 1;
  }
  return p;
}

}  // namespace twla
