// tests/kernels/test_device_linear.cpp: kernels/cuda/device_linear.h, the CUDA linears model
// execution calls (`backend: kernel-cuda`), against the CPU kernels on the same packed buffers.
// Without a usable GPU (this CI machine) it checks the refusal instead: one sentence saying why,
// the same from device_status() and from make_device_linear.
#include <cmath>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/cuda/device_linear.h"
#include "kernels/cuda/e2m_problem.h"
#include "kernels/e2m.h"
#include "kernels/tq2.h"
#include "tests/catch.h"

using namespace twla::kernels;
using twla::kernels::cuda::device_status;
using twla::kernels::cuda::make_device_linear;

namespace {
std::vector<uint8_t> random_tq2(int64_t oc, int64_t ic, int64_t gs, uint32_t seed) {
  std::mt19937 rng(seed);
  const int64_t G = gs <= 0 ? 1 : ic / gs;
  std::vector<int8_t> t(oc * ic);
  std::vector<float> alpha(oc * G), mu(oc * G);
  for (auto& v : t) v = int8_t(int(rng() % 3) - 1);
  for (int64_t i = 0; i < oc * G; ++i) alpha[i] = 0.01f + 0.0001f * (rng() % 900), mu[i] = 0.00002f * (int(rng() % 1000) - 500);
  return tq2_pack(t.data(), alpha.data(), mu.data(), oc, ic, gs);
}

struct Codes {
  std::vector<uint8_t> q;
  std::vector<float> scale, zero;
};
Codes random_codes(int n, int64_t ic, int bits, float zero_max, uint32_t seed) {
  std::mt19937 rng(seed);
  Codes c{std::vector<uint8_t>(n * ic), std::vector<float>(n), std::vector<float>(n)};
  for (auto& v : c.q) v = uint8_t(rng() % (1u << bits));
  for (int b = 0; b < n; ++b)
    c.scale[b] = 0.01f + 0.001f * (rng() % 100), c.zero[b] = std::floor(zero_max * (rng() % 1000) / 1000.f);
  return c;
}

// fp16 rounding of x (what the CUDA fp32 path feeds its kernels).
std::vector<float> as_half(const std::vector<float>& x) {
  std::vector<float> h(x.size());
  for (size_t i = 0; i < x.size(); ++i) h[i] = float(static_cast<_Float16>(x[i]));
  return h;
}

// max |got - ref| relative to the largest |ref|: 1e-4 allows fp32 sums in another order (the int8
// path's A8 shift by -128 cancels larger terms) and catches one wrong weight (~1e-2).
double rel_max(const std::vector<float>& got, const std::vector<float>& ref) {
  double e = 0, m = 1e-30;
  for (size_t i = 0; i < ref.size(); ++i) e = std::max(e, double(std::fabs(got[i] - ref[i]))), m = std::max(m, double(std::fabs(ref[i])));
  return e / m;
}
}  // namespace

TEST_CASE("device linear: without a usable GPU every call refuses with the same sentence") {
  const std::string why = device_status();
  if (!why.empty()) {
    CHECK(why.find("backend: kernel") != std::string::npos);   // names the CPU alternative
    const std::vector<uint8_t> buf = random_tq2(4, 128, -1, 1);
    try {
      make_device_linear("tq2", buf.data(), buf.size());
      FAIL("make_device_linear succeeded although device_status() said: " << why);
    } catch (const std::runtime_error& e) {
      CHECK(std::string(e.what()) == why);
    }
  } else {
    WARN("a CUDA device is usable: the refusal is not checked, the kernels are (next test cases)");
  }
}

TEST_CASE("device linear: tq2 on the GPU equals the CPU kernels (integer codes) and fp16-rounded inputs") {
  if (!device_status().empty()) return;   // checked above
  struct S { int64_t oc, ic, gs; };
  for (const S& s : {S{3, 100, -1}, S{130, 384, 128}, S{77, 1000, -1}, S{256, 1024, 256}}) {
    const std::vector<uint8_t> buf = random_tq2(s.oc, s.ic, s.gs, uint32_t(s.oc + s.ic));
    const Tq2View v = tq2_view(buf.data(), buf.size());
    const auto dev = make_device_linear("tq2", buf.data(), buf.size());
    REQUIRE(dev->oc() == s.oc);
    REQUIRE(dev->ic() == s.ic);
    for (int n : {1, 3, 8, 9, 64, 300})
      for (int bits : {4, 8})
        for (float zero_max : {15.f, 3000.f}) {   // 3000: outside the exact-fp16 GEMV range -> GEMM
          INFO("tq2 [" << s.oc << ", " << s.ic << "] g" << s.gs << " n=" << n << " bits=" << bits << " zero<=" << zero_max);
          Codes c = random_codes(n, s.ic, bits, zero_max, uint32_t(n * 7 + bits));
          std::vector<float> ref(n * s.oc), got(n * s.oc);
          tq2_gemm_act_ref(v, tq2_act_from_codes(v, c.q.data(), c.scale.data(), c.zero.data(), n), ref.data());
          dev->gemm_act(c.q.data(), c.scale.data(), c.zero.data(), n, got.data());
          CHECK(rel_max(got, ref) < 1e-4);
        }
    for (int n : {1, 5, 8, 17, 300}) {
      std::mt19937 rng{uint32_t(n)};
      std::normal_distribution<float> nd(0.f, 2.f);
      std::vector<float> x(n * s.ic), ref(n * s.oc), got(n * s.oc);
      for (auto& e : x) e = nd(rng);
      tq2_gemm_f32_ref(v, as_half(x).data(), n, ref.data());
      dev->gemm_f32(x.data(), n, got.data());
      INFO("tq2 f32 n=" << n);
      CHECK(rel_max(got, ref) < 1e-4);
    }
  }
}

TEST_CASE("device linear: e2m on the GPU equals the CPU kernels (integer codes) and fp16-rounded inputs") {
  if (!device_status().empty()) return;
  struct S { int64_t oc, ic; int salient; };
  for (const S& s : {S{5, 100, -1}, S{130, 384, 40}, S{64, 1000, -1}, S{96, 512, 128}}) {
    cuda::check::E2mProblem p(s.oc, s.ic, uint32_t(s.oc * 3 + s.ic), s.salient);
    const auto dev = make_device_linear("e2m", p.buf.bytes.data(), p.buf.bytes.size());
    for (int n : {1, 3, 8, 9, 64, 300})
      for (int bits : {4, 8})
        for (float zero_max : {15.f, 3000.f}) {
          INFO("e2m [" << s.oc << ", " << s.ic << "] n=" << n << " bits=" << bits << " zero<=" << zero_max);
          Codes c = random_codes(n, s.ic, bits, zero_max, uint32_t(n * 5 + bits));
          std::vector<float> ref(n * s.oc), got(n * s.oc);
          e2m_gemm_act_ref(p.v, c.q.data(), c.scale.data(), c.zero.data(), n, ref.data());
          dev->gemm_act(c.q.data(), c.scale.data(), c.zero.data(), n, got.data());
          CHECK(rel_max(got, ref) < 1e-4);
        }
    for (int n : {1, 8, 17, 300}) {
      std::mt19937 rng{uint32_t(n)};
      std::normal_distribution<float> nd(0.f, 2.f);
      std::vector<float> x(n * s.ic), ref(n * s.oc), got(n * s.oc);
      for (auto& e : x) e = nd(rng);
      e2m_gemm_f32_ref(p.v, as_half(x).data(), n, ref.data());
      dev->gemm_f32(x.data(), n, got.data());
      INFO("e2m f32 n=" << n);
      CHECK(rel_max(got, ref) < 1e-4);
    }
  }
}

TEST_CASE("device linear: an activation beyond fp16 is a range error, not an inf") {
  if (!device_status().empty()) return;
  const std::vector<uint8_t> buf = random_tq2(4, 128, -1, 2);
  const auto dev = make_device_linear("tq2", buf.data(), buf.size());
  std::vector<float> x(128, 1.f), y(4);
  x[17] = 1e5f;
  CHECK_THROWS_AS(dev->gemm_f32(x.data(), 1, y.data()), std::range_error);
}
