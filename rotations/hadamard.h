// rotations/hadamard.h: randomized Hadamard rotations Q = H_n D / sqrt(n) (QuaRot-style), D random
// signs from a seed; x Q by a fast Walsh-Hadamard transform in O(n log n) (n = m * 2^k: FWHT over
// the 2^k factor, then the small m x m Hadamard factor as a matmul).
// Small Hadamard factors come from Sylvester (powers of two), Paley I (q+1, q = 3 mod 4 prime power),
// Paley II (2(q+1), q = 1 mod 4 prime power), over GF(p^k), and four circulants (williamson.h:
// Williamson for 92 = 4*23 and 172 = 4*43, so Llama-2's 11008 = 172 * 64; Goethals-Seidel for
// 156 = 4*39). Sizes with none of these (no factor m <= 2048 with n / m a power of two) fall back
// to a seeded random orthogonal matrix (QR of a Gaussian), announced once per size on stderr and
// flagged in stats().
// Not here: the plugin shell (registry.cpp), CUDA kernels (kernels/).
// Source: QuaRot (Ashkboos et al. 2024); ALGORITHMS.md section 4.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace twla {

// An n x n Hadamard matrix (+-1, H H^T = n I) from Sylvester/Paley/four circulants, as [n, n] f64, or
// an undefined tensor when none of those constructions gives order n (n must be 1, 2 or 4t).
Tensor hadamard_matrix(int64_t n);
// Which construction hadamard_matrix(n) uses: "sylvester", "paley1(q)", "paley2(q)",
// "williamson(n/4)", "goethals-seidel(n/4)", "kron(<m>,2^k)" or "" when none.
std::string hadamard_construction(int64_t n);
// True when q = p^k for a prime p (k >= 1); p and k out.
bool prime_power(int64_t q, int64_t* p = nullptr, int* k = nullptr);

// In-place unnormalized Walsh-Hadamard transform (Sylvester order) of `rows` contiguous rows of
// length n (a power of two). Plain loops (radix 8, then radix 4); the inner butterflies vectorize.
void fwht_rows(float* data, int64_t rows, int64_t n);
void fwht_rows(double* data, int64_t rows, int64_t n);
// Slow reference: the Sylvester matrix H_n [n, n] (f64), H[i][j] = (-1)^popcount(i & j).
Tensor sylvester_ref(int64_t n);

// How x -> x Q runs for one size n.
struct HadamardPlan {
  int64_t n = 0;
  int64_t m = 1;            // small factor: H_n = H_m (x) H_{2^k}, n = m * 2^k
  int64_t k2 = 1;           // 2^k
  Tensor Hm_t;              // [m, m] f32: H_m^T (undefined when m == 1)
  Tensor Hm_t64;            // [m, m] f64
  Tensor signs;             // [n] f32: diag(D) / sqrt(n)
  Tensor signs64;           // [n] f64
  bool fallback = false;    // no Hadamard construction: Q is a random orthogonal matrix
  Tensor Q;                 // [n, n] f32, only when fallback
  Tensor Q64;               // [n, n] f64, only when fallback
  std::string construction; // hadamard_construction(m) or "random-orthogonal"
};

// Picks the smallest constructible m with n / m a power of two; otherwise the fallback. Deterministic
// in (n, seed).
std::shared_ptr<const HadamardPlan> make_hadamard_plan(int64_t n, uint64_t seed);
// x [..., n] -> x Q (f32 or f64 in, same dtype out). The fast path.
Tensor hadamard_apply(const HadamardPlan& p, const Tensor& x);
// The dense Q [n, n] f64 the plan stands for (reference and tests).
Tensor hadamard_dense(const HadamardPlan& p);

}  // namespace twla
