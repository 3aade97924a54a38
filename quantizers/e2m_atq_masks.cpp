// quantizers/e2m_atq_masks.cpp: see e2m_atq_masks.h. Candidate errors are reduced per row in
// fp32 and summed over rows in fp64 in a fixed order, so the choices do not depend on the thread
// count; ties (identical masks) give identical errors and the first candidate wins (strict <).
#include "quantizers/e2m_atq_masks.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <numeric>

#include "core/error.h"
#include "quantizers/e2m_atq_fit.h"
#include "quantizers/e2m_atq_rowfit.h"

namespace twla::e2m {

const float kQuantileQ[81] = {
    0x1.99999ap-4f, 0x1.c28f5cp-4f, 0x1.eb8520p-4f, 0x1.0a3d70p-3f, 0x1.1eb852p-3f, 0x1.333334p-3f,
    0x1.47ae14p-3f, 0x1.5c28f6p-3f, 0x1.70a3d8p-3f, 0x1.851ebap-3f, 0x1.99999ap-3f, 0x1.ae147cp-3f,
    0x1.c28f5cp-3f, 0x1.d70a3ep-3f, 0x1.eb8520p-3f, 0x1.000000p-2f, 0x1.0a3d70p-2f, 0x1.147ae0p-2f,
    0x1.1eb852p-2f, 0x1.28f5c2p-2f, 0x1.333332p-2f, 0x1.3d70a4p-2f, 0x1.47ae14p-2f, 0x1.51eb84p-2f,
    0x1.5c28f6p-2f, 0x1.666666p-2f, 0x1.70a3d8p-2f, 0x1.7ae148p-2f, 0x1.851eb8p-2f, 0x1.8f5c28p-2f,
    0x1.99999ap-2f, 0x1.a3d70ap-2f, 0x1.ae147ap-2f, 0x1.b851eap-2f, 0x1.c28f5cp-2f, 0x1.ccccccp-2f,
    0x1.d70a3cp-2f, 0x1.e147acp-2f, 0x1.eb851ep-2f, 0x1.f5c28ep-2f, 0x1.000000p-1f, 0x1.051eb8p-1f,
    0x1.0a3d70p-1f, 0x1.0f5c28p-1f, 0x1.147ae2p-1f, 0x1.19999ap-1f, 0x1.1eb852p-1f, 0x1.23d70ap-1f,
    0x1.28f5c2p-1f, 0x1.2e147ap-1f, 0x1.333332p-1f, 0x1.3851eap-1f, 0x1.3d70a4p-1f, 0x1.428f5cp-1f,
    0x1.47ae14p-1f, 0x1.4cccccp-1f, 0x1.51eb84p-1f, 0x1.570a3cp-1f, 0x1.5c28f4p-1f, 0x1.6147acp-1f,
    0x1.666666p-1f, 0x1.6b851ep-1f, 0x1.70a3d6p-1f, 0x1.75c28ep-1f, 0x1.7ae148p-1f, 0x1.800000p-1f,
    0x1.851eb8p-1f, 0x1.8a3d70p-1f, 0x1.8f5c2ap-1f, 0x1.947ae2p-1f, 0x1.99999ap-1f, 0x1.9eb852p-1f,
    0x1.a3d70ap-1f, 0x1.a8f5c2p-1f, 0x1.ae147ap-1f, 0x1.b33332p-1f, 0x1.b851ecp-1f, 0x1.bd70a4p-1f,
    0x1.c28f5cp-1f, 0x1.c7ae14p-1f, 0x1.ccccccp-1f,
};

std::vector<double> numpy_quantiles(std::vector<float> a, const float* q, size_t nq) {
  std::vector<double> out(nq, 0.0);
  const int64_t n = static_cast<int64_t>(a.size());
  if (n == 0) return out;
  std::sort(a.begin(), a.end());
  const float last = static_cast<float>(n - 1);   // exact for n < 2^24
  for (size_t i = 0; i < nq; ++i) {
    const float v = last * q[i];                   // numpy: (n-1) * float32 q stays fp32
    if (static_cast<double>(v) >= static_cast<double>(n - 1)) {
      out[i] = a[n - 1];
      continue;
    }
    const int64_t prev = static_cast<int64_t>(std::floor(v));
    const double gamma = static_cast<double>(v) - static_cast<double>(prev);
    const float lo = a[prev], hi = a[prev + 1];
    const float diff = hi - lo;                    // fp32 subtract, then fp64 lerp
    out[i] = gamma >= 0.5 ? static_cast<double>(hi) - static_cast<double>(diff) * (1.0 - gamma)
                          : static_cast<double>(lo) + static_cast<double>(diff) * gamma;
  }
  return out;
}

namespace {
std::vector<float> to_vector(const Tensor& t) {
  Tensor c = t.contiguous().flatten();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

// The reference's error_N = 2048 * 4096 * 128: a constant scale of the split-1 error.
constexpr double kErrorN = 2048.0 * 4096.0 * 128.0;
// Split-1 residuals go through S in chunks of rows; this bounds a chunk's buffer (elements).
constexpr int64_t kBatchElems = int64_t{1} << 20;

// The search's inner loop, fused per row: rows run in parallel (they are independent, so the
// results do not depend on the thread count), candidates in order with the row in cache.
// For candidate c, masks(c, t, lo, hi) sets the row's two masks; the residual
// e = t - ((fit(lo) + fit(hi)) [+ base]) -- the reference's op order -- goes to sink(c, r, e, tmp).
// target and base (may be undefined) contiguous; rows [row0, row1).
template <class MaskFn, class Sink>
void for_rows(const Tensor& target, int64_t row0, int64_t row1, int64_t n, int order,
              const Tensor& base, MaskFn masks, Sink sink) {
  const int64_t w = target.size(1);
  const float* pt = target.data_ptr<float>();
  const float* pb = base.defined() ? base.data_ptr<float>() : nullptr;
  at::parallel_for(row0, row1, 4, [&](int64_t r0, int64_t r1) {
    std::vector<float> scratch(4 * w), g1(w), g2(w), e(w), tmp(w);
    std::unique_ptr<bool[]> lo(new bool[w]), hi(new bool[w]);
    for (int64_t r = r0; r < r1; ++r) {
      const float* t = pt + r * w;
      for (int64_t c = 0; c < n; ++c) {
        masks(c, t, lo.get(), hi.get());
        row::greedy_fit(t, lo.get(), w, order, g1.data(), scratch.data());
        row::greedy_fit(t, hi.get(), w, order, g2.data(), scratch.data());
        for (int64_t j = 0; j < w; ++j) {
          float q = g1[j] + g2[j];
          if (pb) q = q + pb[r * w + j];
          e[j] = t[j] - q;
        }
        sink(c, r, e.data(), tmp.data());
      }
    }
  });
}

// MSE per candidate: per-row fp32 sums of e^2 in ATen's order, rows summed in fp64 in order.
template <class MaskFn>
std::vector<double> mse_errors(const Tensor& target, int64_t n, MaskFn masks) {
  const int64_t oc = target.size(0), w = target.size(1);
  std::vector<float> row_err(n * oc);
  for_rows(target.contiguous(), 0, oc, n, 2, Tensor(), masks, [&](int64_t c, int64_t r, const float* e, float* tmp) {
    for (int64_t j = 0; j < w; ++j) tmp[j] = e[j] * e[j];
    row_err[c * oc + r] = row::aten_sum(tmp, w);
  });
  std::vector<double> err(n, 0.0);
  for (int64_t c = 0; c < n; ++c) {
    double s = 0;
    for (int64_t r = 0; r < oc; ++r) s += row_err[c * oc + r];
    err[c] = s / static_cast<double>(oc * w);
  }
  return err;
}

// The first strict minimum (the reference's `if err < best`); -1 when no error is below inf.
int first_min(const std::vector<double>& e) {
  double best = std::numeric_limits<double>::infinity();
  int idx = -1;
  for (size_t i = 0; i < e.size(); ++i)
    if (e[i] < best) {
      best = e[i];
      idx = static_cast<int>(i);
    }
  return idx;
}

// The reference compares fp32 data with a 0-dim fp64 tensor: the split is rounded to fp32.
Tensor at_least(const Tensor& values, const Tensor& region, double split) {
  return region & (values >= static_cast<float>(split));
}
Tensor below(const Tensor& values, const Tensor& region, double split) {
  return region & (values < static_cast<float>(split));
}

struct Split {
  std::vector<double> candidates, errors;
  int index = 0;
  Tensor hi, lo;
};
// Keeps the first strict minimum; with no finite error, candidate 0 (the reference's fallback).
void choose(Split& s, const Tensor& values, const Tensor& region) {
  s.index = std::max(first_min(s.errors), 0);
  s.hi = at_least(values, region, s.candidates.at(s.index));
  s.lo = below(values, region, s.candidates.at(s.index));
}
}  // namespace

BlockMasks search_masks(const Tensor& W_blk, const Tensor& U_blk, const Tensor& S,
                        const MaskSearchOptions& opt, MaskSearchTrace* trace) {
  const int64_t oc = W_blk.size(0), w = W_blk.size(1);
  TWLA_ASSERT(U_blk.size(0) == w && S.size(0) == w, describe(U_blk), describe(S));
  // Saliency on the diagonal of the upper Cholesky factor of H^-1 (BiLLM's "hessian" metric).
  Tensor d = at::diag(U_blk).reshape({1, -1});
  Tensor target = W_blk.pow(2) / d.pow(2);                  // [oc, w]
  Tensor col_score = at::abs(target).sum(0);                // [w]

  int64_t up_lim = opt.max_salient;
  if (w < up_lim) {
    TWLA_CHECK(!opt.compat_reference, "E2M-ATQ (compat: reference): a block of ", w,
               " columns is narrower than the salient search limit ", up_lim,
               "; the reference crashes here (topk out of range). Use compat off, which caps "
               "the search to the block width");
    up_lim = w;
  }
  // Columns by decreasing score; ties keep the lower index. rank[c] = position of column c.
  std::vector<int64_t> ranked(w);
  std::iota(ranked.begin(), ranked.end(), 0);
  {
    Tensor cs = col_score.contiguous();
    const float* p = cs.data_ptr<float>();
    std::stable_sort(ranked.begin(), ranked.end(),
                     [p](int64_t a, int64_t b) { return p[a] > p[b]; });
  }
  std::vector<int64_t> rank_of(w);
  for (int64_t i = 0; i < w; ++i) rank_of[ranked[i]] = i;
  Tensor rank = at::tensor(at::ArrayRef<int64_t>(rank_of), at::kLong);
  auto top_columns = [&](int64_t k) { return (rank < k).unsqueeze(0).expand({oc, w}); };

  // 1. How many salient columns: order-2 greedy fits on both parts, least MSE.
  std::vector<double> err_salient;
  int64_t k = 0;
  if (opt.salient_search) {
    err_salient = mse_errors(target, std::max<int64_t>(up_lim - 1, 0),
                             [&](int64_t c, const float*, bool* lo, bool* hi) {
                               for (int64_t j = 0; j < w; ++j) {
                                 hi[j] = rank_of[j] < c + 1;   // the top c + 1 columns
                                 lo[j] = !hi[j];
                               }
                             });
    k = first_min(err_salient) + 1;   // the reference starts from 1 when nothing is below inf
    if (k == 0) k = 1;
  }
  Tensor mask3 = top_columns(k).contiguous();
  Tensor nonsal = at::logical_not(mask3);
  Tensor group3 = ternarize_rows(target, mask3, 2, Tensor(), opt.iters, 0).value;

  BlockMasks out;
  Split split2, split1;
  // 2. Salient entries: split by a quantile of the nonzero |target| there, least MSE.
  if (opt.split_salient) {
    Tensor bg = at::abs(target * mask3);
    split2.candidates = numpy_quantiles(to_vector(bg.masked_select(bg.ne(0))), kQuantileQ, 81);
    split2.errors = mse_errors(target, 81, [&](int64_t c, const float* t, bool* lo, bool* hi) {
      const float split = static_cast<float>(split2.candidates[c]);
      for (int64_t j = 0; j < w; ++j) {
        const bool in = rank_of[j] < k;
        const float v = std::fabs(t[j] * (in ? 1.f : 0.f));
        hi[j] = in && v >= split;
        lo[j] = in && v < split;
      }
    });
    choose(split2, bg, mask3);
    out.masks = {split2.hi, split2.lo};
    out.orders = {opt.salient_order, opt.salient_order};
  } else {
    out.masks = {mask3};
    out.orders = {opt.salient_order};
  }
  // 3. Non-salient entries: split by a quantile of |target| over the whole block (the zeros of
  // the salient columns included, as the reference does), least tr(E S E^T) with the salient
  // region represented by its single alternating fit. Per chunk of rows, the residuals of all
  // candidates are built in parallel into one reused buffer E [rows * 81, w], pushed through S
  // in one GEMM, and reduced per (row, candidate) in ATen's order: no per-row [w, w] products and
  // no fresh temporaries per candidate.
  {
    Tensor bg = at::abs(target * nonsal);
    Tensor Sf = S.to(at::kFloat).contiguous();
    split1.candidates = numpy_quantiles(to_vector(bg), kQuantileQ, 81);
    constexpr int64_t nc = 81;
    const int64_t chunk = std::clamp<int64_t>(kBatchElems / (nc * w), 1, oc);
    Tensor E = at::empty({chunk * nc, w}, at::kFloat), ES = at::empty_like(E);
    std::vector<float> row_err(nc * oc);
    Tensor tc = target.contiguous(), g3 = group3.contiguous();
    for (int64_t c0 = 0; c0 < oc; c0 += chunk) {
      const int64_t rows = std::min(chunk, oc - c0);
      float* pe = E.data_ptr<float>();
      for_rows(tc, c0, c0 + rows, nc, 1, g3,
               [&](int64_t c, const float* t, bool* lo, bool* hi) {
                 const float split = static_cast<float>(split1.candidates[c]);
                 for (int64_t j = 0; j < w; ++j) {
                   const bool in = rank_of[j] >= k;
                   const float v = std::fabs(t[j] * (in ? 1.f : 0.f));
                   hi[j] = in && v >= split;
                   lo[j] = in && v < split;
                 }
               },
               [&](int64_t c, int64_t r, const float* e, float*) {
                 std::copy(e, e + w, pe + ((r - c0) * nc + c) * w);
               });
      Tensor Ec = E.narrow(0, 0, rows * nc), ESc = ES.narrow(0, 0, rows * nc);
      at::mm_out(ESc, Ec, Sf);
      const float* pes = ESc.data_ptr<float>();
      at::parallel_for(0, rows, 16, [&](int64_t r0, int64_t r1) {
        std::vector<float> tmp(w);
        for (int64_t r = r0; r < r1; ++r)
          for (int64_t c = 0; c < nc; ++c) {
            const int64_t o = (r * nc + c) * w;
            for (int64_t j = 0; j < w; ++j) tmp[j] = pes[o + j] * pe[o + j];
            row_err[c * oc + c0 + r] = row::aten_sum(tmp.data(), w);
          }
      });
    }
    split1.errors.assign(nc, 0.0);
    for (int64_t c = 0; c < nc; ++c) {
      double acc = 0;
      for (int64_t r = 0; r < oc; ++r) acc += row_err[c * oc + r];
      split1.errors[c] = acc / kErrorN;
    }
    choose(split1, bg, nonsal);
    out.masks.push_back(split1.hi);
    out.masks.push_back(split1.lo);
    out.orders.push_back(1);
    out.orders.push_back(1);
  }
  if (trace) {
    trace->target = target;
    trace->col_score = col_score;
    trace->ranked_cols.assign(ranked.begin(), ranked.begin() + std::min<int64_t>(up_lim, w));
    trace->err_salient = err_salient;
    trace->n_salient = static_cast<int>(k);
    trace->split2_candidates = split2.candidates;
    trace->err_split2 = split2.errors;
    trace->split2_index = opt.split_salient ? split2.index : -1;
    trace->split1_candidates = split1.candidates;
    trace->err_split1 = split1.errors;
    trace->split1_index = split1.index;
  }
  return out;
}

}  // namespace twla::e2m
