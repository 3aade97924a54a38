// quantizers/hessian.cpp: see hessian.h. Op sequences mirror the references (fp32 throughout) so
// that results stay within an ulp or two of theirs on the same BLAS/LAPACK.
#include "quantizers/hessian.h"

#include <dlfcn.h>

#include <cmath>

#include "core/error.h"

namespace twla {

OneBlasThread::OneBlasThread() {
  get_ = reinterpret_cast<GetFn>(::dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
  set_ = reinterpret_cast<SetFn>(::dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  if (get_ && set_) {
    before_ = get_();
    set_(1);
  }
}

OneBlasThread::~OneBlasThread() {
  if (get_ && set_) set_(before_);
}

namespace {
// [T, ic] -> [1, T, ic]; [B, T, ic] stays.
Tensor as_batched(const Tensor& X, const char* who) {
  TWLA_CHECK(X.dim() == 2 || X.dim() == 3, who, ": calibration input has shape ", describe(X),
             ", expected [T, ic] or [B, T, ic]");
  return X.dim() == 2 ? X.unsqueeze(0) : X;
}

void check_pd(const Tensor& info, const std::string& layer, double percdamp) {
  TWLA_CHECK(info.item<int>() == 0, "layer '", layer, "': H + damp*I is not positive definite "
             "(percdamp=", percdamp, ", leading minor ", info.item<int>(),
             "); raise percdamp or check the calibration data");
}
}  // namespace

void hessian_add_batch(HessianAccumulator& acc, const Tensor& X, bool compat_reference) {
  Tensor Xb = as_batched(X, "hessian_add_batch");
  const int64_t b = Xb.size(0), ic = Xb.size(2);
  if (!acc.H.defined()) acc.H = at::zeros({ic, ic}, at::kFloat);
  TWLA_CHECK(acc.H.size(0) == ic, "hessian_add_batch: input has ic=", ic, " but H is ",
             describe(acc.H), "; all batches of one layer must have the same width");
  // The references scale H by a Python float (cast to fp32 by ATen) and the input by sqrt(2/n).
  acc.H.mul_(static_cast<double>(acc.n_seq) / static_cast<double>(acc.n_seq + b));
  acc.n_seq += b;
  acc.n_tokens += Xb.size(0) * Xb.size(1);
  Tensor inp = Xb.reshape({-1, ic}).t().to(at::kFloat);          // [ic, tokens]
  inp = inp * std::sqrt(2.0 / static_cast<double>(acc.n_seq));
  acc.H.add_(inp.matmul(inp.t()));
  bool normalized = false;
  if (compat_reference) {
    auto info = std::get<1>(at::linalg_cholesky_ex(acc.H));
    if (info.item<int>() != 0) {
      acc.H = (acc.H + acc.H.t()) * 0.5;
      Tensor mean_diag = at::mean(at::diag(acc.H)).clamp_min(1e-12);
      acc.H = acc.H / mean_diag;
      normalized = true;
    }
  }
  acc.normalized.push_back(normalized);
}

void s_blocks_add(SBlockAccumulator& acc, const Tensor& X) {
  Tensor Xb = as_batched(X, "s_blocks_add").to(at::kFloat);
  TWLA_CHECK(acc.blocksize > 0, "s_blocks_add: blocksize=", acc.blocksize, " must be positive");
  const int64_t ic = Xb.size(2), bs = acc.blocksize;
  const int64_t nb = (ic + bs - 1) / bs;
  if (acc.sum.empty()) {
    for (int64_t k = 0; k < nb; ++k) {
      int64_t w = std::min(bs, ic - k * bs);
      acc.sum.push_back(at::zeros({w, w}, at::kFloat));
    }
  }
  TWLA_CHECK(static_cast<int64_t>(acc.sum.size()) == nb, "s_blocks_add: input width ", ic,
             " differs from earlier batches");
  for (int64_t j = 0; j < Xb.size(0); ++j) {
    Tensor x = Xb[j];                                            // [T, ic]
    for (int64_t k = 0; k < nb; ++k) {
      Tensor xk = x.narrow(1, k * bs, acc.sum[k].size(0));
      acc.sum[k].add_(at::matmul(xk.t(), xk));
    }
    acc.n_seq += 1;
  }
}

std::vector<Tensor> s_blocks_finish(const SBlockAccumulator& acc) {
  TWLA_CHECK(acc.n_seq > 0, "S blocks: no calibration sequence was added");
  std::vector<Tensor> out;
  for (const auto& s : acc.sum) out.push_back(s / static_cast<double>(acc.n_seq));
  return out;
}

std::vector<Tensor> s_blocks_from_sequences(const std::vector<Tensor>& X_seqs, int blocksize) {
  SBlockAccumulator acc;
  acc.blocksize = blocksize;
  for (const auto& x : X_seqs) s_blocks_add(acc, x);
  return s_blocks_finish(acc);
}

void check_finite(const Tensor& t, const std::string& what, const std::string& layer) {
  if (!t.numel()) return;
  TWLA_CHECK(at::isfinite(t).all().item<bool>(), what, " of layer '", layer,
             "' contains NaN or Inf (", describe(t), "); check the model weights / calibration data");
}

std::vector<int64_t> fix_dead_columns(Tensor& H, Tensor& W) {
  TWLA_ASSERT(H.dim() == 2 && H.size(0) == H.size(1) && W.size(1) == H.size(0));
  Tensor dead = at::diag(H).eq(0).nonzero().flatten().contiguous();
  std::vector<int64_t> out(dead.data_ptr<int64_t>(), dead.data_ptr<int64_t>() + dead.numel());
  for (int64_t d : out) {
    H[d][d] = 1.0;
    W.select(1, d).zero_();
  }
  return out;
}

double damp_hessian(Tensor& H, double percdamp) {
  // percdamp * torch.mean(diag H): a Python float times a 0-dim fp32 tensor stays fp32.
  Tensor damp = at::mean(at::diag(H)) * percdamp;
  H.diagonal().add_(damp);
  return damp.item<double>();
}

Tensor inverse_cholesky_upper(const Tensor& H_damped, const std::string& layer, double percdamp) {
  OneBlasThread one;
  auto [L, info] = at::linalg_cholesky_ex(H_damped);
  check_pd(info, layer, percdamp);
  Tensor Hinv = at::cholesky_inverse(L);
  auto [U, info2] = at::linalg_cholesky_ex(Hinv, /*upper=*/true);
  TWLA_CHECK(info2.item<int>() == 0, "layer '", layer, "': inverse of H + damp*I lost positive "
             "definiteness in fp32 (percdamp=", percdamp, "); raise percdamp");
  return U;
}

Tensor inverse_cholesky_upper_direct(const Tensor& H_damped, const std::string& layer, double percdamp,
                                     bool lapack_trtri) {
  OneBlasThread one;
  const int64_t n = H_damped.size(0);
  auto [L, info] = at::linalg_cholesky_ex(H_damped.flip({0, 1}));
  check_pd(info, layer, percdamp);
  // L is row-major lower, i.e. column-major upper: LAPACK inverts it in place as 'U'.
  using TrtriFn = void (*)(const char*, const char*, const int*, float*, const int*, int*);
  static const auto trtri = reinterpret_cast<TrtriFn>(::dlsym(RTLD_DEFAULT, "strtri_"));
  Tensor Linv;
  if (lapack_trtri && trtri && n <= INT32_MAX) {
    Linv = L.contiguous();   // a fresh factor: inverted in place
    const int ni = static_cast<int>(n);
    int info2 = 0;
    trtri("U", "N", &ni, Linv.data_ptr<float>(), &ni, &info2);
    TWLA_CHECK(info2 == 0, "layer '", layer, "': singular Cholesky factor (strtri info ", info2,
               "); raise percdamp");
  } else {
    Linv = at::linalg_solve_triangular(L, at::eye(n, L.options()), /*upper=*/false);
  }
  return Linv.flip({0, 1}).contiguous();
}

}  // namespace twla
