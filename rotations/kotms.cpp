// rotations/kotms.cpp: KOTMS, a learned Kronecker rotation C (x) B per linear. See kotms.h.
// The gradient is written out by hand (no autograd):
//   loss = nll + bw * bal over Xc = centre_rows(C W_o B), z_k = log N(x; mu_k, s_k), resp = softmax(z)
//   dL/dz_k = -resp_k / N + bw * resp_k (g_k - sum_j resp_j g_j),  g_k = 2 (mean resp_k - 1/3) / N
//   dL/dx   = sum_k dL/dz_k * (-(x - mu_k) / s_k^2)        (c, s_k constant: no_grad in the reference)
//   dL/dX   = centre_rows(dL/dXc);  Y_o = W_o B, X_o = C Y_o
//   dL/dC   = sum_o G_o Y_o^T,  dL/dB = sum_o W_o^T C^T G_o
//   Cayley:  O = M^-1 (I - A), M = I + A:  dL/dA = -M^-T G_O (I + O)^T,  dL/dP = G_A - G_A^T
// Reductions are over fixed row blocks summed in order, so results do not depend on thread count.
#include "rotations/kotms.h"

#include <ATen/Parallel.h>

#include <chrono>
#include <cmath>

#include "core/error.h"

namespace twla {

namespace {

constexpr int64_t kRowBlock = 8;
constexpr double kEps = 1e-10;  // the reference's clamp of c and sigmas

template <class T>
struct RowConst {
  T c, s0, s1, a0, a1, i0, i1;  // a = log2pi + 2 log s, i = 1 / s^2
};

// Centres each row of X [oc, ic] in place and returns per-row constants.
template <class T>
RowConst<T> centre_row(T* x, int64_t ic, const KotmsConfig& cfg) {
  double sum = 0;
  for (int64_t j = 0; j < ic; ++j) sum += double(x[j]);
  const T mean = T(sum / double(ic));
  double asum = 0;
  for (int64_t j = 0; j < ic; ++j) {
    x[j] -= mean;
    asum += std::abs(double(x[j]));
  }
  RowConst<T> k;
  k.c = std::max(T(asum / double(ic)), T(kEps));
  k.s0 = std::max(T(cfg.sigma0) * k.c, T(kEps));
  k.s1 = std::max(T(cfg.sigma1) * k.c, T(kEps));
  const T log2pi = T(std::log(2.0 * M_PI));
  k.a0 = log2pi + T(2) * std::log(k.s0);
  k.a1 = log2pi + T(2) * std::log(k.s1);
  k.i0 = T(1) / (k.s0 * k.s0);
  k.i1 = T(1) / (k.s1 * k.s1);
  return k;
}

// z = (neg, zero, pos) log densities; returns lse, writes resp.
template <class T>
inline T mixture(T x, const RowConst<T>& k, T resp[3]) {
  const T dn = x + k.c, dp = x - k.c;
  T z[3] = {T(-0.5) * (k.a1 + dn * dn * k.i1), T(-0.5) * (k.a0 + x * x * k.i0),
            T(-0.5) * (k.a1 + dp * dp * k.i1)};
  T M = std::max(z[0], std::max(z[1], z[2]));
  T e0 = std::exp(z[0] - M), e1 = std::exp(z[1] - M), e2 = std::exp(z[2] - M);
  T s = e0 + e1 + e2, is = T(1) / s;
  resp[0] = e0 * is;
  resp[1] = e1 * is;
  resp[2] = e2 * is;
  return M + std::log(s);
}

// X [oc, ic] rotated weight (centred in place). Fills G [oc, ic] = dL/dX when G != nullptr.
template <class T>
void trigauss(T* X, int64_t oc, int64_t ic, const KotmsConfig& cfg, T* G, double* nll, double* bal) {
  const int64_t nb = (oc + kRowBlock - 1) / kRowBlock;
  std::vector<RowConst<T>> rc(static_cast<size_t>(oc));
  std::vector<double> part(static_cast<size_t>(nb * 4), 0.0);
  at::parallel_for(0, nb, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      double lse = 0, r0 = 0, r1 = 0, r2 = 0;
      for (int64_t o = b * kRowBlock; o < std::min(oc, (b + 1) * kRowBlock); ++o) {
        T* x = X + o * ic;
        rc[size_t(o)] = centre_row(x, ic, cfg);
        const RowConst<T>& k = rc[size_t(o)];
        for (int64_t j = 0; j < ic; ++j) {
          T resp[3];
          lse += double(mixture(x[j], k, resp));
          r0 += double(resp[0]);
          r1 += double(resp[1]);
          r2 += double(resp[2]);
        }
      }
      part[size_t(b * 4 + 0)] = lse;
      part[size_t(b * 4 + 1)] = r0;
      part[size_t(b * 4 + 2)] = r1;
      part[size_t(b * 4 + 3)] = r2;
    }
  });
  double lse = 0, rs[3] = {0, 0, 0};
  for (int64_t b = 0; b < nb; ++b) {
    lse += part[size_t(b * 4)];
    for (int q = 0; q < 3; ++q) rs[q] += part[size_t(b * 4 + 1 + q)];
  }
  const double N = double(oc) * double(ic);
  *nll = -(lse / N - std::log(3.0));
  double m[3], g[3];
  *bal = 0;
  for (int q = 0; q < 3; ++q) {
    m[q] = rs[q] / N;
    *bal += (m[q] - 1.0 / 3.0) * (m[q] - 1.0 / 3.0);
    g[q] = 2.0 * (m[q] - 1.0 / 3.0) / N;
  }
  if (!G) return;
  const T invN = T(1.0 / N), bw = T(cfg.balance_w);
  const T gk[3] = {T(g[0]), T(g[1]), T(g[2])};
  at::parallel_for(0, oc, 1, [&](int64_t o0, int64_t o1) {
    for (int64_t o = o0; o < o1; ++o) {
      const T* x = X + o * ic;
      T* gr = G + o * ic;
      const RowConst<T>& k = rc[size_t(o)];
      double gsum = 0;
      for (int64_t j = 0; j < ic; ++j) {
        T resp[3];
        mixture(x[j], k, resp);
        const T gbar = resp[0] * gk[0] + resp[1] * gk[1] + resp[2] * gk[2];
        T dz[3];
        for (int q = 0; q < 3; ++q) dz[q] = -resp[q] * invN + bw * resp[q] * (gk[q] - gbar);
        const T v = -(dz[0] * (x[j] + k.c) * k.i1 + dz[1] * x[j] * k.i0 +
                      dz[2] * (x[j] - k.c) * k.i1);
        gr[j] = v;
        gsum += double(v);
      }
      const T gm = T(gsum / double(ic));
      for (int64_t j = 0; j < ic; ++j) gr[j] -= gm;
    }
  });
}

// dL/dP from dL/dO for O = cayley(P).
Tensor cayley_backward(const Tensor& P, const Tensor& O, const Tensor& G_O) {
  Tensor I = at::eye(P.size(0), P.options());
  Tensor A = P - P.t();
  Tensor G_A = -at::linalg_solve((I + A).t(), G_O).mm((I + O).t());
  return G_A - G_A.t();
}

// One step of torch.optim.Adam (1.13, single-tensor, no weight decay, no amsgrad), in place.
void adam_step(Tensor& p, const Tensor& grad, Tensor& m, Tensor& v, int64_t step, double lr) {
  const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
  m.mul_(b1).add_(grad, 1 - b1);
  v.mul_(b2).addcmul_(grad, grad, 1 - b2);
  const double bc1 = 1 - std::pow(b1, double(step));
  const double bc2 = 1 - std::pow(b2, double(step));
  const double step_size = lr / bc1;
  Tensor denom = (v.sqrt() / std::sqrt(bc2)).add_(eps);
  p.addcdiv_(m, denom, -step_size);
}

// Y [N, l, r] -> C Y_n for every n, as one GEMM [l, l] x [l, N * r] (the reference's layout; a
// broadcast bmm of N tiny products is slower).
Tensor left_mul(const Tensor& C, const Tensor& Y) {
  const int64_t N = Y.size(0), l = Y.size(1), r = Y.size(2);
  Tensor t = C.mm(Y.permute({1, 0, 2}).reshape({l, N * r}));
  return t.view({l, N, r}).permute({1, 0, 2}).contiguous();
}

at::ScalarType parse_dtype(const std::string& s) {
  if (s == "float32") return at::kFloat;
  if (s == "float64") return at::kDouble;
  TWLA_FAIL("rotation.dtype='", s, "' is not a training precision; use float32 or float64");
}

}  // namespace

KotmsFactors kotms_factors(int64_t oc, int64_t ic) {
  TWLA_CHECK(oc > 0 && ic > 0, "kotms: linear shape [", oc, ", ", ic, "] must be positive");
  int64_t prod = std::max<int64_t>(1, (oc * ic) / 64);
  int64_t r0 = int64_t(std::sqrt(double(prod)));
  while (r0 * r0 > prod) --r0;
  while ((r0 + 1) * (r0 + 1) <= prod) ++r0;
  r0 = std::max<int64_t>(1, std::min(r0, ic));
  for (int64_t r = r0; r >= 1; --r)
    if (ic % r == 0) return {ic / r, r};
  return {ic, 1};
}

Tensor cayley(const Tensor& P) {
  TWLA_ASSERT(P.dim() == 2 && P.size(0) == P.size(1), describe(P));
  Tensor A = P - P.t();
  Tensor I = at::eye(P.size(0), P.options());
  return at::linalg_solve(I + A, I - A);
}

Tensor kron_rotate(const Tensor& x, const Tensor& C, const Tensor& B) {
  const int64_t l = C.size(0), r = B.size(0);
  TWLA_CHECK(x.dim() >= 1 && x.size(-1) == l * r, "kotms: input ", describe(x),
             " does not end in l*r = ", l, "*", r);
  Tensor Bx = B.scalar_type() == x.scalar_type() ? B : B.to(x.scalar_type());
  Tensor Cx = C.scalar_type() == x.scalar_type() ? C : C.to(x.scalar_type());
  Tensor y = at::matmul(x.reshape({-1, l, r}), Bx);  // [N, l, r]: X B
  y = left_mul(Cx, y);                                 // [N, l, r]: C X B
  return y.reshape(x.sizes());
}

KotmsLoss kotms_loss(const Tensor& W, const Tensor& P_r, const Tensor& P_l, const KotmsConfig& cfg,
                     bool with_grad) {
  const int64_t oc = W.size(0), ic = W.size(1), l = P_l.size(0), r = P_r.size(0);
  TWLA_ASSERT(ic == l * r, ic, " != ", l, "*", r);
  TWLA_ASSERT(W.scalar_type() == P_r.scalar_type() && W.scalar_type() == P_l.scalar_type());
  Tensor B = cayley(P_r), C = cayley(P_l);
  Tensor W3 = W.contiguous().view({oc, l, r});
  Tensor Y = at::matmul(W3, B);              // [oc, l, r]
  Tensor X = left_mul(C, Y);                 // [oc, l, r], centred in place below
  Tensor G = with_grad ? at::empty_like(X) : Tensor();
  KotmsLoss out;
  AT_DISPATCH_FLOATING_TYPES(X.scalar_type(), "kotms_loss", [&] {
    trigauss<scalar_t>(X.data_ptr<scalar_t>(), oc, ic, cfg,
                       with_grad ? G.data_ptr<scalar_t>() : nullptr, &out.nll, &out.bal);
  });
  out.loss = out.nll + cfg.balance_w * out.bal;
  if (!with_grad) return out;
  Tensor G_C = at::tensordot(G, Y, {0, 2}, {0, 2});                       // [l, l]
  Tensor Gy = left_mul(C.t(), G);                                           // [oc, l, r]
  Tensor G_B = W3.reshape({oc * l, r}).t().mm(Gy.reshape({oc * l, r}));   // [r, r]
  out.grad_P_r = cayley_backward(P_r, B, G_B);
  out.grad_P_l = cayley_backward(P_l, C, G_C);
  return out;
}

KotmsResult kotms_train(const Tensor& W0, const KotmsConfig& cfg, Tensor P_r0, Tensor P_l0,
                        bool keep_trace, int64_t l, int64_t r) {
  auto t0 = std::chrono::steady_clock::now();
  TWLA_CHECK(W0.dim() == 2, "kotms: weight ", describe(W0), " must be [oc, ic]");
  TWLA_CHECK(cfg.steps >= 0, "rotation.steps=", cfg.steps, " must be >= 0");
  const auto dt = parse_dtype(cfg.dtype);
  Tensor W = W0.to(dt).contiguous();
  const int64_t oc = W.size(0), ic = W.size(1);
  KotmsResult res;
  if (l <= 0 || r <= 0) {
    KotmsFactors f = kotms_factors(oc, ic);
    l = f.l;
    r = f.r;
  }
  TWLA_CHECK(l * r == ic, "kotms: l*r = ", l, "*", r, " != ic = ", ic);
  res.l = l;
  res.r = r;
  auto opt = at::TensorOptions().dtype(dt);
  Tensor P_r = P_r0.defined() ? P_r0.to(dt).clone() : at::zeros({r, r}, opt);
  Tensor P_l = P_l0.defined() ? P_l0.to(dt).clone() : at::zeros({l, l}, opt);
  check_shape(P_r, {r, r}, "kotms P_r");
  check_shape(P_l, {l, l}, "kotms P_l");
  Tensor m_r = at::zeros_like(P_r), v_r = at::zeros_like(P_r);
  Tensor m_l = at::zeros_like(P_l), v_l = at::zeros_like(P_l);
  for (int t = 0; t < cfg.steps; ++t) {
    KotmsLoss L = kotms_loss(W, P_r, P_l, cfg, true);
    TWLA_CHECK(std::isfinite(L.loss), "kotms: loss is ", L.loss, " at step ", t,
               "; check the weight for inf/nan or lower rotation.lr_r/lr_l");
    res.losses.push_back(L.loss);
    adam_step(P_r, L.grad_P_r, m_r, v_r, t + 1, cfg.lr_r);
    adam_step(P_l, L.grad_P_l, m_l, v_l, t + 1, cfg.lr_l);
    if (keep_trace) res.trace.push_back({L.loss, L.grad_P_r, L.grad_P_l, P_r.clone(), P_l.clone()});
  }
  res.losses.push_back(kotms_loss(W, P_r, P_l, cfg, false).loss);
  res.P_r = P_r;
  res.P_l = P_l;
  res.B = cayley(P_r);
  res.C = cayley(P_l);
  res.W_rot = kron_rotate(W, res.C, res.B);
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return res;
}

}  // namespace twla
