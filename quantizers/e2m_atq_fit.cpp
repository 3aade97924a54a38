// quantizers/e2m_atq_fit.cpp: see e2m_atq_fit.h. The Stage 1 and greedy fits keep the
// reference's fp32 op sequence (masked nanmean, strict thresholds, +1e-8 / +1e-10 guards,
// first-minimum argmin) so discrete choices agree with it; Stage 2 replaces the reference's
// [rows, cols, cols] products by products with S, which only reorders fp32 sums.
#include "quantizers/e2m_atq_fit.h"

#include <ATen/Parallel.h>

#include <cmath>
#include <limits>
#include <vector>

#include "core/error.h"
#include "quantizers/e2m_atq_rowfit.h"

namespace twla::e2m {

namespace {
constexpr double kDeltaFactor = 0.75;   // delta = 0.75 * mean|w - mu| (TWN rule)
constexpr double kAlphaEps = 1e-8;      // alpha = sum t w / (sum |t| + eps)
constexpr double kStage2Eps = 1e-10;    // Stage 2 denominators

Tensor col(const Tensor& v) { return v.unsqueeze(1); }   // [rows] -> [rows, 1]

Tensor nan_where(const Tensor& x, const Tensor& mask) {
  return at::where(mask, x, at::full_like(x, std::numeric_limits<float>::quiet_NaN()));
}
Tensor zero_nan(const Tensor& v) { return at::where(at::isnan(v), at::zeros_like(v), v); }

Tensor masked_row_absmean(const Tensor& x, const Tensor& mask) {
  return zero_nan(at::nanmean(at::abs(nan_where(x, mask)), {1}));
}

// t = +1 where wc > delta, -1 where wc < -delta, else 0 (strict), times the mask.
Tensor threshold(const Tensor& wc, const Tensor& maskf, const Tensor& delta) {
  Tensor d = col(delta);
  Tensor t = at::where(wc > d, at::ones_like(wc), at::zeros_like(wc));
  t = at::where(wc < -d, -at::ones_like(t), t);
  return t * maskf;
}

Tensor alpha_from(const Tensor& wc, const Tensor& t, const Tensor& maskf) {
  Tensor num = ((t * wc) * maskf).sum(1);
  Tensor den = (at::abs(t) * maskf).sum(1) + kAlphaEps;
  return num / den;
}

// One order-1 fit of r (already 0 outside the mask): mu, t, alpha.
void order1_step(const Tensor& r, const Tensor& mask, const Tensor& maskf, Tensor& mu,
                 Tensor& t, Tensor& alpha) {
  Tensor wc = r - col(mu) * maskf;
  Tensor delta = masked_row_absmean(wc, mask) * kDeltaFactor;
  t = threshold(wc, maskf, delta);
  alpha = alpha_from(wc, t, maskf);
}

// Each entry takes the nearest of the 9 levels s0*a0 + s1*a1 (s0, s1 in {-1, 0, 1}) to wc;
// the index 3(s0+1)+(s1+1) order and the first minimum follow torch.argmin.
void nearest_of_nine(const Tensor& wc, const Tensor& a0, const Tensor& a1, const Tensor& maskf,
                     Tensor& t0, Tensor& t1) {
  const int64_t rows = wc.size(0), cols = wc.size(1);
  Tensor wcc = wc.contiguous(), mk = maskf.contiguous();
  t0 = at::zeros_like(wcc);
  t1 = at::zeros_like(wcc);
  const float* pw = wcc.data_ptr<float>();
  const float* pm = mk.data_ptr<float>();
  const float* pa0 = a0.contiguous().data_ptr<float>();
  const float* pa1 = a1.contiguous().data_ptr<float>();
  float* p0 = t0.data_ptr<float>();
  float* p1 = t1.data_ptr<float>();
  at::parallel_for(0, rows, 16, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float A0 = pa0[r], A1 = pa1[r];
      const float v[9] = {-A0 - A1, -A0, -A0 + A1, -A1, 0.f, A1, A0 - A1, A0, A0 + A1};
      for (int64_t c = 0; c < cols; ++c) {
        const int64_t k = r * cols + c;
        const float w = pw[k];
        int best = 0;
        float bd = std::fabs(w - v[0]);
        for (int i = 1; i < 9; ++i) {
          float d = std::fabs(w - v[i]);
          if (d < bd || (std::isnan(d) && !std::isnan(bd))) { bd = d; best = i; }
        }
        // Multiplying by the mask keeps the reference's -0/+0 pattern irrelevant: codes are
        // exact small integers.
        p0[k] = static_cast<float>(best / 3 - 1) * pm[k];
        p1[k] = static_cast<float>(best % 3 - 1) * pm[k];
      }
    }
  });
}

Tensor value_of(const TernaryFit& f, const Tensor& maskf) {
  if (f.order == 1) return (col(f.a0) * f.t0 + col(f.mu)) * maskf;
  return ((col(f.mu) + col(f.a0) * f.t0) + col(f.a1) * f.t1) * maskf;
}

void check_inputs(const Tensor& x, const Tensor& mask) {
  TWLA_ASSERT(x.dim() == 2 && x.scalar_type() == at::kFloat, describe(x));
  TWLA_ASSERT(mask.sizes() == x.sizes() && mask.scalar_type() == at::kBool, describe(mask));
}
}  // namespace

Tensor masked_row_mean(const Tensor& x, const Tensor& mask) {
  return zero_nan(at::nanmean(nan_where(x, mask), {1}));
}

Tensor greedy_fit(const Tensor& x, const Tensor& mask, int order) {
  check_inputs(x, mask);
  Tensor maskf = mask.to(at::kFloat);
  Tensor W = x * maskf;
  Tensor sum = at::zeros_like(x);
  for (int k = 0; k < order; ++k) {
    Tensor r = W - sum;
    Tensor mu = masked_row_mean(r, mask), t, alpha;
    order1_step(r, mask, maskf, mu, t, alpha);
    sum = sum + (col(alpha) * t + col(mu)) * maskf;
  }
  return sum;
}

TernaryFit alternating_fit(const Tensor& x, const Tensor& mask, int order, int iters) {
  check_inputs(x, mask);
  TWLA_ASSERT(order == 1 || order == 2, "order ", order);
  Tensor maskf = mask.to(at::kFloat);
  Tensor W = x * maskf;
  TernaryFit f;
  f.order = order;
  f.mu = masked_row_mean(W, mask);
  order1_step(W, mask, maskf, f.mu, f.t0, f.a0);
  if (order == 1) {
    f.a1 = at::zeros_like(f.mu);
    f.t1 = at::zeros_like(W);
    Tensor w_hat = value_of(f, maskf);
    for (int it = 0; it < iters; ++it) {
      f.mu = f.mu + masked_row_mean(W - w_hat, mask);
      order1_step(W, mask, maskf, f.mu, f.t0, f.a0);
      w_hat = value_of(f, maskf);
    }
    f.value = w_hat;
    return f;
  }
  // Order 2 init: an order-1 fit of the residual of the first plane.
  Tensor wc = W - col(f.mu) * maskf;
  Tensor r1 = wc - (col(f.a0) * f.t0) * maskf;
  Tensor delta1 = masked_row_absmean(r1, mask) * kDeltaFactor;
  f.t1 = threshold(r1, maskf, delta1);
  f.a1 = alpha_from(r1, f.t1, maskf);
  Tensor w_hat = value_of(f, maskf);
  for (int it = 0; it < iters; ++it) {
    f.mu = f.mu + masked_row_mean(W - w_hat, mask);
    wc = W - col(f.mu) * maskf;
    Tensor den0 = ((f.t0 * f.t0) * maskf).sum(1) + kAlphaEps;
    Tensor num0 = ((f.t0 * (wc - (col(f.a1) * f.t1) * maskf)) * maskf).sum(1);
    f.a0 = num0 / den0;
    Tensor den1 = ((f.t1 * f.t1) * maskf).sum(1) + kAlphaEps;
    Tensor num1 = ((f.t1 * (wc - (col(f.a0) * f.t0) * maskf)) * maskf).sum(1);
    f.a1 = num1 / den1;
    nearest_of_nine(wc, f.a0, f.a1, maskf, f.t0, f.t1);
    w_hat = value_of(f, maskf);
  }
  f.value = w_hat;
  return f;
}

void relocate(TernaryFit& f, const Tensor& x, const Tensor& mask, const Tensor& S, int iters) {
  check_inputs(x, mask);
  const int64_t cols = x.size(1);
  TWLA_ASSERT(S.dim() == 2 && S.size(0) == cols && S.size(1) == cols, describe(S));
  Tensor maskf = mask.to(at::kFloat);
  Tensor W = x * maskf;
  Tensor Sf = S.to(at::kFloat);
  // sum_jk S_jk u_j m_k = u . (m S^T); sum_jk S_jk t_j v_k = (t S) . v.
  Tensor MS = at::matmul(maskf, Sf.t());
  Tensor mu_den = (maskf * MS).sum(1) + kStage2Eps;
  Tensor T0m = f.t0 * maskf;
  Tensor T0S = at::matmul(T0m, Sf);
  Tensor den0 = (T0S * T0m).sum(1) + kStage2Eps;
  if (f.order == 1) {
    for (int it = 0; it < iters; ++it) {
      f.mu = ((W - (col(f.a0) * f.t0) * maskf) * MS).sum(1) / mu_den;
      Tensor W_mu = W - col(f.mu) * maskf;
      f.a0 = (T0S * W_mu).sum(1) / den0;
    }
  } else {
    Tensor T1m = f.t1 * maskf;
    Tensor T1S = at::matmul(T1m, Sf);
    Tensor den1 = (T1S * T1m).sum(1) + kStage2Eps;
    for (int it = 0; it < iters; ++it) {
      Tensor planes = (col(f.a0) * f.t0 + col(f.a1) * f.t1) * maskf;
      f.mu = ((W - planes) * MS).sum(1) / mu_den;
      Tensor W_mu = W - col(f.mu) * maskf;
      f.a0 = (T0S * (W_mu - col(f.a1) * T1m)).sum(1) / den0;
      f.a1 = (T1S * (W_mu - col(f.a0) * T0m)).sum(1) / den1;
    }
  }
  f.value = value_of(f, maskf);
}

TernaryFit ternarize(const Tensor& x, const Tensor& mask, int order, const Tensor& S,
                     int stage1_iters, int stage2_iters) {
  TernaryFit f = alternating_fit(x, mask, order, stage1_iters);
  if (S.defined()) relocate(f, x, mask, S, stage2_iters);
  return f;
}

TernaryFit ternarize_rows(const Tensor& x_in, const Tensor& mask_in, int order, const Tensor& S,
                          int stage1_iters, int stage2_iters) {
  check_inputs(x_in, mask_in);
  TWLA_ASSERT(order == 1 || order == 2, "order ", order);
  Tensor x = x_in.contiguous(), mask = mask_in.contiguous();
  const int64_t rows = x.size(0), w = x.size(1);
  TernaryFit f;
  f.order = order;
  f.mu = at::empty({rows}, at::kFloat);
  f.a0 = at::empty_like(f.mu);
  f.a1 = at::empty_like(f.mu);
  f.t0 = at::empty_like(x);
  f.t1 = at::empty_like(x);
  f.value = at::empty_like(x);
  const float* px = x.data_ptr<float>();
  const bool* pm = mask.data_ptr<bool>();
  float *pmu = f.mu.data_ptr<float>(), *pa0 = f.a0.data_ptr<float>(), *pa1 = f.a1.data_ptr<float>();
  float *pt0 = f.t0.data_ptr<float>(), *pt1 = f.t1.data_ptr<float>(), *pv = f.value.data_ptr<float>();
  constexpr int64_t kRowsPerTask = 16;
  at::parallel_for(0, rows, kRowsPerTask, [&](int64_t r0, int64_t r1) {
    std::vector<float> scratch(6 * w);
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t o = r * w;
      row::RowParams p = row::alternating_fit(px + o, pm + o, w, order, stage1_iters, pt0 + o,
                                              pt1 + o, pv + o, scratch.data());
      pmu[r] = p.mu, pa0[r] = p.a0, pa1[r] = p.a1;
    }
  });
  if (!S.defined()) return f;
  TWLA_ASSERT(S.dim() == 2 && S.size(0) == w && S.size(1) == w, describe(S));
  // The products with S for all rows at once (the tensor code's matmuls), then the refit per row.
  Tensor maskf = mask.to(at::kFloat), Sf = S.to(at::kFloat);
  Tensor MS = at::matmul(maskf, Sf.t()).contiguous();
  Tensor T0S = at::matmul(f.t0 * maskf, Sf).contiguous();
  Tensor T1S = order == 2 ? at::matmul(f.t1 * maskf, Sf).contiguous() : Tensor();
  const float* pms = MS.data_ptr<float>();
  const float* p0s = T0S.data_ptr<float>();
  const float* p1s = order == 2 ? T1S.data_ptr<float>() : nullptr;
  at::parallel_for(0, rows, kRowsPerTask, [&](int64_t r0, int64_t r1) {
    std::vector<float> scratch(6 * w);
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t o = r * w;
      row::RowParams p{pmu[r], pa0[r], pa1[r]};
      row::relocate(px + o, pm + o, w, order, stage2_iters, pms + o, p0s + o,
                    p1s ? p1s + o : nullptr, pt0 + o, pt1 + o, p, pv + o, scratch.data());
      pmu[r] = p.mu, pa0[r] = p.a0, pa1[r] = p.a1;
    }
  });
  return f;
}

}  // namespace twla::e2m
