// quantizers/hessian.h: the second-order statistics GPTQ and E2M-ATQ consume, and the shared
// preparation of H (dead columns, damping, the upper Cholesky factor of H^-1).
// Not here: running the model to collect inputs (experiments/), the quantizers themselves.
// Source: GPTQ (IST-DASLab/gptq gptq.py:add_batch/fasterquant); TWLA reference
// quantize/tra_gptq.py:add_batch; REFERENCE_NOTES.md §1.2-1.3, ALGORITHMS.md §1.
#pragma once
#include <string>
#include <vector>

#include "core/tensor.h"

namespace twla {

// H = (2/N_seq) sum_tokens x x^T as the references accumulate it: one call per batch of
// sequences, H *= n/(n+b); n += b; H += (sqrt(2/n) X)^T (sqrt(2/n) X), all in fp32.
struct HessianAccumulator {
  Tensor H;                       // [ic, ic] fp32; undefined before the first batch
  int64_t n_seq = 0;              // sequences seen (a [T, ic] batch counts as one)
  int64_t n_tokens = 0;
  std::vector<bool> normalized;   // per call: whether the compat renormalisation fired
};

// X: [T, ic] (one sequence) or [B, T, ic] (B sequences). compat_reference reproduces the TWLA
// reference's per-call "Cholesky failed -> H = sym(H) / mean(diag H)" (REFERENCE_NOTES.md §6.3):
// it mixes normalised and unnormalised contributions and is platform-dependent, so it is off by
// default (IST-DASLab GPTQ never does it).
void hessian_add_batch(HessianAccumulator& acc, const Tensor& X, bool compat_reference = false);

// S for every block of `blocksize` input columns: mean over sequences of X_j[:, blk]^T X_j[:, blk]
// (no factor 2, no division by tokens), fp32, accumulated sequence by sequence.
struct SBlockAccumulator {
  int blocksize = 128;
  std::vector<Tensor> sum;        // per block [w, w]
  int64_t n_seq = 0;
};
void s_blocks_add(SBlockAccumulator& acc, const Tensor& X);   // X: [T, ic] or [B, T, ic]
std::vector<Tensor> s_blocks_finish(const SBlockAccumulator& acc);
std::vector<Tensor> s_blocks_from_sequences(const std::vector<Tensor>& X_seqs, int blocksize);

// OpenBLAS on one thread for this scope (restored after); without OpenBLAS it does nothing.
// OpenBLAS picks its blocking by thread count, and some kernel families (Haswell's, measured;
// SkylakeX's gave the same bits) then round GEMM results differently: potrf/potri at 1536+
// columns (tests/quantizers/test_hessian.cpp) and sgemm (docs/PERFORMANCE.md, "Determinism").
// The quantizers run their BLAS calls under it so their outputs do not depend on --threads.
class OneBlasThread {
 public:
  OneBlasThread();
  ~OneBlasThread();
  OneBlasThread(const OneBlasThread&) = delete;
  OneBlasThread& operator=(const OneBlasThread&) = delete;

 private:
  using GetFn = int (*)();
  using SetFn = void (*)(int);
  GetFn get_ = nullptr;
  SetFn set_ = nullptr;
  int before_ = 1;
};

// Throws Error naming `what` and the layer when t holds NaN or Inf.
void check_finite(const Tensor& t, const std::string& what, const std::string& layer);

// H[d, d] = 1 and W[:, d] = 0 for every dead column d (diag H == 0); returns the dead columns.
// H: [ic, ic], W: [oc, ic], both modified in place.
std::vector<int64_t> fix_dead_columns(Tensor& H, Tensor& W);

// Adds percdamp * mean(diag H) to the diagonal of H in place; returns the damp value (fp32 math).
double damp_hessian(Tensor& H, double percdamp);

// U upper triangular with U^T U = H^-1 (cholesky -> cholesky_inverse -> cholesky upper, the
// op sequence of both references). Throws Error naming the layer when H is not positive definite.
Tensor inverse_cholesky_upper(const Tensor& H_damped, const std::string& layer, double percdamp);

// The same U from one Cholesky and one triangular inverse (2n^3/3 flops instead of 4n^3/3):
// with J the exchange matrix and J H J = L L^T, H^-1 = (J L^-1 J)^T (J L^-1 J), and J L^-1 J is
// upper triangular with a positive diagonal, so it is the upper Cholesky factor of H^-1 (unique).
// No explicit inverse is formed, so it is at least as accurate; it differs from the reference's
// op sequence in the last bits. The inverse is LAPACK strtri from the loaded BLAS when it
// exports one (lapack_trtri), else a triangular solve against I (n^3 flops).
Tensor inverse_cholesky_upper_direct(const Tensor& H_damped, const std::string& layer, double percdamp,
                                     bool lapack_trtri = true);

}  // namespace twla
