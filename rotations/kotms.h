// rotations/kotms.h: KOTMS, TWLA's learned Kronecker rotation C (x) B per linear, as pure functions:
// the (l, r) factor rule, the Cayley map, the two-sided row rotation, the tri-Gaussian loss with its
// hand-written gradient, and the Adam training loop. The plugin shell is in registry.cpp.
// Not here: fusing into weights (experiments/weights.cpp), a CUDA online transform (kernels/).
// Source: TWLA, arXiv 2606.13054; ALGORITHMS.md section 4; REFERENCE_NOTES.md section 3
// (quantize/k_preprocessor_ternary.py). Cost of the online transform: O(ic (l + r)) per token.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace twla {

// Defaults are the reference's CLI set (scripts/KOTMS.py), which is what its pipeline runs.
struct KotmsConfig {
  int steps = 100;
  double lr_r = 1e-2;
  double lr_l = 1e-2;
  double sigma0 = 0.25;
  double sigma1 = 0.25;
  double balance_w = 0.1;
  std::string dtype = "float32";
  template <class V> void visit(V& v) {
    v("steps", steps, "Adam steps per linear (reference CLI: 100)");
    v("lr_r", lr_r, "Adam learning rate of P_r, the r x r right factor B");
    v("lr_l", lr_l, "Adam learning rate of P_l, the l x l left factor C");
    v("sigma0", sigma0, "sigma of the 0 component, as a fraction of c = mean|row|");
    v("sigma1", sigma1, "sigma of the +-c components, as a fraction of c");
    v("balance_w", balance_w, "weight of the responsibility balance term");
    v("dtype", dtype, "training precision: float32 (the reference) or float64");
  }
};

// ic = l * r: r = the largest divisor of ic not above floor(sqrt(oc * ic / 64)) (at least 1).
struct KotmsFactors {
  int64_t l = 1, r = 1;
};
KotmsFactors kotms_factors(int64_t oc, int64_t ic);

// O = (I + A)^-1 (I - A), A = P - P^T. P [k, k] -> [k, k], same dtype.
Tensor cayley(const Tensor& P);
// Row-wise two-sided rotation: every row of x [..., l*r], viewed as an l x r matrix X, becomes
// C X B (row-major flatten). Serves both W -> W Q (rows of W) and x -> x Q (tokens).
Tensor kron_rotate(const Tensor& x, const Tensor& C, const Tensor& B);

struct KotmsLoss {
  double loss = 0, nll = 0, bal = 0;
  Tensor grad_P_r, grad_P_l;  // [r, r], [l, l]; undefined unless asked
};
// The reference loss at (P_r, P_l) for W [oc, l*r] (all one dtype): nll of the equal-weight
// 3-Gaussian mixture (means -c, 0, +c; sigmas sigma1 c, sigma0 c, sigma1 c; c = mean|row| of the
// row-centred rotated weight, a constant for the gradient) + balance_w * ||mean resp - 1/3||^2.
KotmsLoss kotms_loss(const Tensor& W, const Tensor& P_r, const Tensor& P_l, const KotmsConfig& cfg,
                     bool with_grad);

struct KotmsStep {  // one Adam step: what it saw and what it left
  double loss = 0;
  Tensor grad_P_r, grad_P_l, P_r, P_l;
};
struct KotmsResult {
  int64_t l = 1, r = 1;
  Tensor P_r, P_l;               // trained skew parameters (training dtype)
  Tensor B, C;                   // [r, r], [l, l] orthogonal (training dtype)
  Tensor W_rot;                  // [oc, ic] rotated weight (training dtype)
  std::vector<double> losses;    // loss before each step, then the loss after training: steps + 1
  std::vector<KotmsStep> trace;  // per step, only when asked
  double seconds = 0;
};
// Trains P_r, P_l with Adam (betas 0.9/0.999, eps 1e-8, two groups lr_r / lr_l), from P_r0/P_l0 or
// zeros when undefined. W is converted to cfg.dtype. l, r: kotms_factors unless given (> 0).
KotmsResult kotms_train(const Tensor& W, const KotmsConfig& cfg, Tensor P_r0 = Tensor(),
                        Tensor P_l0 = Tensor(), bool keep_trace = false, int64_t l = 0,
                        int64_t r = 0);

}  // namespace twla
