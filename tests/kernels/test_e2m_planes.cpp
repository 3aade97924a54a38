// tests/kernels/test_e2m_planes.cpp: the ternary-plane split of e2m blocks (kernels/cuda/
// e2m_planes.h) that the CUDA prefill GEMMs use, run on the CPU:
// (1) every weight rebuilt from the planes and coefficients equals e2m_dequantize's up to fp32
//     rounding (1e-6 of the largest param); every plane is zero outside its region and K slabs;
// (2) the GEMM computed the kernels' way (region sums + plane dots over each plane's slabs only +
//     the coefficient epilogue + the zero point via row sums) matches e2m_gemm_act_ref /
//     e2m_gemm_f32_ref to 1e-5 of sum |x w|.
// Layouts: random salient counts (< 64 and up to 128), none, GPTQ-ternary's all-salient form;
// ragged widths. Not here: the WMMA tiling itself (needs a GPU: tq2_cuda_check,
// docs/PERFORMANCE.md "GPU").
#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "kernels/cuda/e2m_planes.h"
#include "kernels/e2m.h"
#include "tests/catch.h"

using namespace twla::kernels;
namespace planes = twla::kernels::e2m_planes;

namespace {

// A random e2m buffer: per block `sal` salient columns (random count in 0..max_sal when sal < 0),
// groups 0/1 salient with two trit planes, 2/3 not; all_a: one order-2 group (groups = 1).
E2mBuffer random_e2m(int64_t oc, int64_t ic, uint32_t seed, int max_sal, bool all_a) {
  std::mt19937 rng(seed);
  const int64_t nb = (ic + kE2mBlock - 1) / kE2mBlock, G = all_a ? 1 : 4;
  std::vector<uint8_t> group(oc * ic), is_sal(ic, all_a ? 1 : 0);
  std::vector<int8_t> t0(oc * ic), t1(oc * ic, 0);
  for (int64_t st = 0; st < ic && !all_a; st += kE2mBlock)
    for (int n = int(rng() % uint32_t(max_sal + 1)), j = 0; j < n; ++j)
      is_sal[st + int64_t(rng() % uint32_t(std::min(kE2mBlock, ic - st)))] = 1;
  for (int64_t i = 0; i < oc * ic; ++i) {
    const bool s = is_sal[i % ic];
    group[i] = all_a ? 0 : uint8_t((s ? 0 : 2) + rng() % 2);
    t0[i] = int8_t(int(rng() % 3) - 1);
    t1[i] = s ? int8_t(int(rng() % 3) - 1) : 0;
  }
  std::uniform_real_distribution<float> al(0.01f, 0.1f), m(-0.02f, 0.02f);
  std::vector<float> mu(oc * nb * G), a0(oc * nb * G), a1(oc * nb * G);
  for (size_t i = 0; i < mu.size(); ++i) mu[i] = m(rng), a0[i] = al(rng), a1[i] = al(rng) / 3;
  E2mSource src;
  src.oc = oc, src.ic = ic, src.groups = G, src.group = group.data(), src.t0 = t0.data(), src.t1 = t1.data();
  src.mu = mu.data(), src.alpha0 = a0.data(), src.alpha1 = a1.data();
  return e2m_pack(src);
}

uint32_t word24(const uint8_t* p) { return uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16); }

// The code words of row o, block b, 8-position group gi, as the GEMM loads them (defaults c = 1).
void words(const E2mView& w, int64_t o, int64_t b, int gi, uint32_t& v0, uint32_t& v1) {
  const uint8_t* c0 = w.codes + o * w.row_bytes + w.blocks[b].offset;
  const bool live = 8 * gi < w.width(b);
  v0 = live ? word24(c0 + 3 * gi) : 0x249249u;
  v1 = live && 8 * gi < w.blocks[b].n_a ? word24(c0 + kE2mC0Bytes + 3 * gi) : 0x249249u;
}

struct Layout {
  const char* name;
  int max_sal;
  bool all_a;
};
const Layout kLayouts[] = {{"salient < 64", 63, false}, {"salient <= 128", 128, false}, {"no salient", 0, false},
                           {"all salient (groups = 1)", 0, true}};

}  // namespace

TEST_CASE("e2m planes rebuild every weight and stay inside their region and slabs", "[kernels][e2m]") {
  for (const Layout& L : kLayouts)
    for (int64_t ic : {1, 100, 128, 257, 1000}) {
      SECTION(std::string(L.name) + ", ic=" + std::to_string(ic)) {
        const int64_t oc = 7;
        const E2mBuffer buf = random_e2m(oc, ic, uint32_t(ic * 13 + L.max_sal), L.max_sal, L.all_a);
        const E2mView w = buf.view();
        std::vector<float> W(oc * ic);
        e2m_dequantize(w, W.data());
        for (int64_t o = 0; o < oc; ++o)
          for (int64_t b = 0; b < w.n_blocks; ++b) {
            const int n_a = w.blocks[b].n_a, width = int(w.width(b));
            const float* prm = w.params + (o * w.n_blocks + b) * kE2mParams;
            double scale = 0;
            for (int k = 0; k < kE2mParams; ++k) scale = std::max(scale, double(std::fabs(prm[k])));
            for (int p = 0; p < kE2mBlock; ++p) {
              uint32_t v0, v1;
              words(w, o, b, p / 8, v0, v1);
              double rebuilt = p < n_a ? prm[0] : p < width ? prm[6] : 0.0;
              for (int P = 0; P < planes::kPlanes; ++P) {
                const planes::Range r = planes::range(P, n_a, width);
                const int v = planes::value(P, r, v0, v1, p % 8, p);
                if (v == 0) continue;
                REQUIRE(p < width);                                             // pad positions: all planes 0
                REQUIRE((p >= r.r_lo && p < r.r_hi));                             // inside the region
                REQUIRE((p / planes::kSlab >= r.s_lo && p / planes::kSlab < r.s_hi));  // inside the slabs it multiplies
                rebuilt += double(planes::coef(P, prm)) * v;
              }
              if (p >= width) continue;
              const int64_t col = b * kE2mBlock + w.perm[b * kE2mBlock + p];
              INFO("row " << o << " block " << b << " position " << p << " (n_a " << n_a << ", width " << width << ")");
              REQUIRE(std::fabs(rebuilt - W[o * ic + col]) <= 1e-6 * scale + 1e-12);
            }
          }
      }
    }
}

// y = sum_blk [mu_A0 RA + mu_B0 RB + sum_P coef_P (x . P over the plane's slabs)], as e2m_gemm.cu.
std::vector<double> plane_gemm(const E2mView& w, const std::vector<double>& x, int m) {
  const int64_t nb = w.n_blocks;
  std::vector<double> y(m * w.oc, 0.0);
  std::vector<double> xp(kE2mBlock);
  for (int b0 = 0; b0 < m; ++b0)
    for (int64_t b = 0; b < nb; ++b) {
      const int n_a = w.blocks[b].n_a, width = int(w.width(b));
      double ra = 0, rb = 0;
      for (int p = 0; p < kE2mBlock; ++p) {
        xp[p] = p < width ? x[b0 * w.ic + b * kE2mBlock + w.perm[b * kE2mBlock + p]] : 0.0;
        (p < n_a ? ra : rb) += xp[p];
      }
      for (int64_t o = 0; o < w.oc; ++o) {
        const float* prm = w.params + (o * nb + b) * kE2mParams;
        double acc = prm[0] * ra + prm[6] * rb;
        for (int P = 0; P < planes::kPlanes; ++P) {
          const planes::Range r = planes::range(P, n_a, width);
          double dot = 0;
          for (int p = r.s_lo * planes::kSlab; p < r.s_hi * planes::kSlab; ++p) {
            uint32_t v0, v1;
            words(w, o, b, p / 8, v0, v1);
            dot += xp[p] * planes::value(P, r, v0, v1, p % 8, p);
          }
          acc += double(planes::coef(P, prm)) * dot;
        }
        y[b0 * w.oc + o] += acc;
      }
    }
  return y;
}

TEST_CASE("the e2m plane GEMM (the CUDA kernels' math) matches the references", "[kernels][e2m]") {
  std::mt19937 rng(5);
  for (const Layout& L : kLayouts)
    for (int64_t ic : {1, 100, 257, 1000}) {
      SECTION(std::string(L.name) + ", ic=" + std::to_string(ic)) {
        const int64_t oc = 9;
        const int m = 3;
        const E2mBuffer buf = random_e2m(oc, ic, uint32_t(ic * 7 + L.max_sal + 1), L.max_sal, L.all_a);
        const E2mView w = buf.view();
        std::vector<float> W(oc * ic), ref(m * oc), sc(m), zp(m);
        e2m_dequantize(w, W.data());
        // 4-bit per-token asymmetric codes: y = s (q . W - z rowsum(W)).
        std::vector<uint8_t> q(m * ic);
        std::vector<double> qd(m * ic);
        for (int64_t i = 0; i < m * ic; ++i) q[i] = uint8_t(rng() % 16), qd[i] = q[i];
        for (int b = 0; b < m; ++b) sc[b] = 0.01f + 0.01f * float(rng() % 10), zp[b] = float(rng() % 16);
        e2m_gemm_act_ref(w, q.data(), sc.data(), zp.data(), m, ref.data());
        const std::vector<double> acc = plane_gemm(w, qd, m);
        for (int b = 0; b < m; ++b)
          for (int64_t o = 0; o < oc; ++o) {
            double rowsum = 0, cond = 0;
            for (int64_t k = 0; k < ic; ++k)
              rowsum += W[o * ic + k], cond += std::fabs((qd[b * ic + k] - zp[b]) * sc[b] * W[o * ic + k]);
            const double y = sc[b] * (acc[b * oc + o] - zp[b] * rowsum);
            REQUIRE(std::fabs(y - ref[b * oc + o]) <= 1e-5 * cond + 1e-7);
          }
        // fp activations (the fp16 GEMM's math).
        std::vector<float> xf(m * ic);
        std::vector<double> xd(m * ic);
        std::normal_distribution<float> nd(0.f, 1.f);
        for (int64_t i = 0; i < m * ic; ++i) xf[i] = nd(rng), xd[i] = xf[i];
        e2m_gemm_f32_ref(w, xf.data(), m, ref.data());
        const std::vector<double> yf = plane_gemm(w, xd, m);
        for (int b = 0; b < m; ++b)
          for (int64_t o = 0; o < oc; ++o) {
            double cond = 0;
            for (int64_t k = 0; k < ic; ++k) cond += std::fabs(xd[b * ic + k] * W[o * ic + k]);
            REQUIRE(std::fabs(yf[b * oc + o] - ref[b * oc + o]) <= 1e-5 * cond + 1e-7);
          }
      }
    }
}
