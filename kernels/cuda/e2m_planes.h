// kernels/cuda/e2m_planes.h: the exact split of an e2m block's dot product into ternary planes,
// shared by the CUDA GEMMs (e2m_gemm.cu) and the CPU test that checks the split against the
// references (tests/kernels/test_e2m_planes.cpp). Plain C++ when not compiled by nvcc.
//
// In a 128-column block an e2m weight is w = mu_h + a0_h t0 (+ a1_h t1 in the salient region A =
// positions < n_a; region B = n_a <= p < width), params of its row and block, h its hi/lo group.
// So, with P the 8 planes below (values in {-1, 0, 1}) and RA, RB the sums of x over A and B,
//   sum_p x_p w_p = mu_A0 RA + mu_B0 RB + sum_P coef(P) * sum_p x_p P_p            (exact algebra)
//   P:    0 [h=1]   1 [h=0] t0   2 [h=1] t0   3 [h=0] t1   4 [h=1] t1   (A)
//         5 [h=1]   6 [h=0] t0   7 [h=1] t0                             (B)
//   coef: mu_A1 - mu_A0, a0_A0, a0_A1, a1_A0, a1_A1, mu_B1 - mu_B0, a0_B0, a0_B1
// Codes (e2m.h): c0 = 4 h + t0 + 1, c1 = 4 h + t1 + 1, 3 bits each, 8 positions per 24-bit word.
#pragma once
#include <cstdint>

#ifdef __CUDACC__
#define TWLA_E2M_HD __host__ __device__ __forceinline__
#else
#define TWLA_E2M_HD inline
#endif

namespace twla::kernels::e2m_planes {

constexpr int kPlanes = 8;
constexpr int kSlab = 16;  // the tensor cores' K step

TWLA_E2M_HD int hsel(int P) { return (0xB5 >> P) & 1; }           // 1,0,1,0,1,1,0,1: the h a plane keeps
TWLA_E2M_HD int kind(int P) { return (0x5294 >> (2 * P)) & 3; }  // 0,1,1,2,2,0,1,1: 1, t0 or t1

// Positions [r_lo, r_hi) of plane P's region and the K slabs [s_lo, s_hi) that touch it.
struct Range {
  int r_lo, r_hi, s_lo, s_hi;
};
TWLA_E2M_HD Range range(int P, int n_a, int width) {
  return P < 5 ? Range{0, n_a, 0, (n_a + kSlab - 1) / kSlab}
               : Range{n_a, width, n_a / kSlab, (width + kSlab - 1) / kSlab};
}

// Plane P's value at position p, the j-th (0..7) of its 8-position group with code words v0 (c0)
// and v1 (c1; any value outside A).
TWLA_E2M_HD int value(int P, const Range& r, uint32_t v0, uint32_t v1, int j, int p) {
  const int k = kind(P);
  const uint32_t c = k == 2 ? v1 : v0;
  const bool keep = p >= r.r_lo && p < r.r_hi && int((v0 >> (3 * j + 2)) & 1u) == hsel(P);
  return keep ? (k == 0 ? 1 : int((c >> (3 * j)) & 3u) - 1) : 0;
}

// Plane P's coefficient from the block's 10 params (e2m.h order:
// mu_A0 mu_A1 a0_A0 a0_A1 a1_A0 a1_A1 mu_B0 mu_B1 a0_B0 a0_B1).
TWLA_E2M_HD float coef(int P, const float* prm) {
  switch (P) {
    case 0: return prm[1] - prm[0];
    case 1: return prm[2];
    case 2: return prm[3];
    case 3: return prm[4];
    case 4: return prm[5];
    case 5: return prm[7] - prm[6];
    case 6: return prm[8];
    default: return prm[9];
  }
}

}  // namespace twla::kernels::e2m_planes
