// kernels/cuda/e2m_problem.cpp: random E2M-ATQ-like e2m weights for tq2_cuda_check (host code
// only, so it also builds and runs without nvcc). Declared in e2m_problem.h.
#include "kernels/cuda/e2m_problem.h"

#include <algorithm>
#include <numeric>
#include <random>
#include <vector>

namespace twla::kernels::cuda::check {

E2mProblem::E2mProblem(int64_t oc_, int64_t ic_, uint32_t seed, int salient, int max_random, bool all_a)
    : oc(oc_), ic(ic_) {
  std::mt19937 rng(seed);
  const int64_t nb = (ic + kE2mBlock - 1) / kE2mBlock, G = all_a ? 1 : 4;
  std::vector<uint8_t> group(oc * ic), sal(ic, all_a ? 1 : 0);
  std::vector<int8_t> t0(oc * ic), t1(oc * ic, 0);
  for (int64_t st = 0; st < ic && !all_a; st += kE2mBlock) {
    const int64_t width = std::min(kE2mBlock, ic - st);
    if (salient < 0) {
      for (int n = int(rng() % uint32_t(max_random + 1)), j = 0; j < n; ++j) sal[st + int64_t(rng() % uint32_t(width))] = 1;
    } else {
      std::vector<int64_t> cols(width);
      std::iota(cols.begin(), cols.end(), st);
      std::shuffle(cols.begin(), cols.end(), rng);
      for (int64_t j = 0; j < std::min<int64_t>(salient, width); ++j) sal[cols[j]] = 1;
    }
  }
  for (int64_t i = 0; i < oc * ic; ++i) {
    const uint32_t r = rng();
    group[i] = all_a ? 0 : uint8_t((sal[i % ic] ? 0 : 2) + (r & 1));
    t0[i] = int8_t(int((r >> 8) % 3) - 1);
    if (sal[i % ic]) t1[i] = int8_t(int((r >> 16) % 3) - 1);
  }
  std::vector<float> mu(oc * nb * G), a0(oc * nb * G), a1(oc * nb * G);
  for (size_t i = 0; i < mu.size(); ++i)
    mu[i] = 0.002f * (int(rng() % 1000) - 500) / 500.f, a0[i] = 0.01f + 0.05f * (rng() % 1000) / 1000.f, a1[i] = a0[i] / 3;
  E2mSource src;
  src.oc = oc, src.ic = ic, src.groups = G, src.group = group.data(), src.t0 = t0.data(), src.t1 = t1.data();
  src.mu = mu.data(), src.alpha0 = a0.data(), src.alpha1 = a1.data();
  buf = e2m_pack(src);
  v = buf.view();
}

}  // namespace twla::kernels::cuda::check
