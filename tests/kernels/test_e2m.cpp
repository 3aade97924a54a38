// tests/kernels/test_e2m.cpp: the e2m format (its weights equal the source's fp32 formula bit for
// bit, honest size, bad input) and every CPU kernel path (scalar, AVX2; threads 1 and 2; batch
// 1..16; ragged shapes; G = 4 and 3) against the plain double references. Tolerance: 2e-5 of
// sum |x w| (the dot's condition scale; fp32 sums over <= 2048 terms stay well below it, one
// wrongly decoded weight of a row is ~1e-3 of it).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/e2m.h"
#include "kernels/kernels.h"
#include "tests/catch.h"

using namespace twla::kernels;

namespace {
// E2M-ATQ's packed parts: per block, random salient columns (groups 0..G-3, two trit planes),
// the rest non-salient (last two groups, t1 = 0).
struct Source {
  int64_t oc, ic, G, nb;
  std::vector<uint8_t> group;
  std::vector<int8_t> t0, t1;
  std::vector<float> mu, a0, a1;
  E2mSource src() const {
    E2mSource s;
    s.oc = oc, s.ic = ic, s.groups = G, s.group = group.data(), s.t0 = t0.data(), s.t1 = t1.data();
    s.mu = mu.data(), s.alpha0 = a0.data(), s.alpha1 = a1.data();
    return s;
  }
  float weight(int64_t o, int64_t k) const {
    const int64_t i = (o * nb + k / kE2mBlock) * G + group[o * ic + k];
    return (mu[i] + a0[i] * float(t0[o * ic + k])) + a1[i] * float(t1[o * ic + k]);
  }
};

Source random_source(int64_t oc, int64_t ic, int64_t G, uint32_t seed, int max_salient = 63) {
  std::mt19937 rng(seed);
  Source s{oc, ic, G, (ic + kE2mBlock - 1) / kE2mBlock, {}, {}, {}, {}, {}, {}};
  s.group.resize(oc * ic), s.t0.resize(oc * ic), s.t1.resize(oc * ic);
  std::uniform_int_distribution<int> t(-1, 1), bit(0, 1);
  for (int64_t b = 0; b < s.nb; ++b) {
    const int64_t st = b * kE2mBlock, w = std::min(kE2mBlock, ic - st);
    std::vector<bool> sal(w, G == 1);  // G = 1: one order-2 group over every column
    const int n_sal = std::uniform_int_distribution<int>(0, int(std::min<int64_t>(max_salient, w)))(rng);
    for (int i = 0; i < n_sal; ++i) sal[std::uniform_int_distribution<int64_t>(0, w - 1)(rng)] = true;
    for (int64_t o = 0; o < oc; ++o)
      for (int64_t c = 0; c < w; ++c) {
        const int64_t i = o * ic + st + c;
        s.group[i] = uint8_t(sal[c] ? (G == 4 ? bit(rng) : 0) : G - 2 + bit(rng));
        s.t0[i] = int8_t(t(rng));
        s.t1[i] = sal[c] ? int8_t(t(rng)) : 0;
      }
  }
  std::uniform_real_distribution<float> al(0.01f, 0.1f), m(-0.02f, 0.02f);
  for (int64_t i = 0; i < oc * s.nb * G; ++i) s.mu.push_back(m(rng)), s.a0.push_back(al(rng)), s.a1.push_back(al(rng) / 3);
  return s;
}

std::vector<float> random_x(int batch, int64_t ic, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> n(0.f, 1.f);
  std::vector<float> x(batch * ic);
  for (auto& v : x) v = n(rng);
  return x;
}

// max over outputs of |a - b| / sum_k |x w| (x_hat for integer activations).
double rel_err(const Source& s, const std::vector<float>& xh, int batch, const std::vector<float>& a,
               const std::vector<float>& b) {
  double worst = 0;
  for (int t = 0; t < batch; ++t)
    for (int64_t o = 0; o < s.oc; ++o) {
      double cond = 1e-30;
      for (int64_t k = 0; k < s.ic; ++k) cond += std::fabs(double(xh[t * s.ic + k]) * s.weight(o, k));
      worst = std::max(worst, std::fabs(double(a[t * s.oc + o]) - b[t * s.oc + o]) / cond);
    }
  return worst;
}

// True when fn throws std::invalid_argument whose message contains `what` (Catch2 v2 and v3 alike).
template <class Fn>
bool throws_with(Fn fn, const std::string& what) {
  try {
    fn();
  } catch (const std::invalid_argument& e) {
    return std::string(e.what()).find(what) != std::string::npos;
  }
  return false;
}

std::vector<E2mPath> paths() {
  std::vector<E2mPath> p{E2mPath::kScalar};
  if (cpu_has_avx2()) p.push_back(E2mPath::kAvx2);
  return p;
}
}  // namespace

TEST_CASE("e2m: the buffer's weights are the source's fp32 formula, bit for bit") {
  for (int64_t G : {4, 3, 2, 1})
    for (int64_t ic : {128, 300, 1000}) {
      CAPTURE(G, ic);
      Source s = random_source(19, ic, G, uint32_t(ic + G), G == 2 ? 0 : 63);
      E2mBuffer buf = e2m_pack(s.src());
      E2mView v = buf.view();
      CHECK(v.oc == 19);
      CHECK(v.ic == ic);
      std::vector<float> W(19 * ic);
      e2m_dequantize(v, W.data());
      int64_t mismatches = 0;
      for (int64_t o = 0; o < 19; ++o)
        for (int64_t k = 0; k < ic; ++k) mismatches += W[o * ic + k] != s.weight(o, k);
      CHECK(mismatches == 0);
    }
}

TEST_CASE("e2m: unpack is pack's inverse (the B groups' alpha1 is not stored)") {
  for (int64_t G : {4, 3, 2, 1}) {
    CAPTURE(G);
    Source s = random_source(7, 300, G, uint32_t(40 + G), G == 2 ? 0 : 63);
    E2mBuffer buf = e2m_pack(s.src());
    Source r = s;
    e2m_unpack(buf.view(), G, r.group.data(), r.t0.data(), r.t1.data(), r.mu.data(), r.a0.data(), r.a1.data());
    CHECK(r.group == s.group);
    CHECK(r.t0 == s.t0);
    CHECK(r.t1 == s.t1);
    CHECK(r.mu == s.mu);
    CHECK(r.a0 == s.a0);
    const int64_t nA = G == 1 ? 1 : G - 2;
    int64_t bad_a1 = 0;
    for (size_t i = 0; i < s.a1.size(); ++i) bad_a1 += int64_t(i % G) < nA ? r.a1[i] != s.a1[i] : r.a1[i] != 0.0f;
    CHECK(bad_a1 == 0);
  }
  Source s = random_source(3, 200, 4, 9);
  E2mBuffer buf = e2m_pack(s.src());
  Source r = s;
  auto unpack = [&](int64_t G) {
    e2m_unpack(buf.view(), G, r.group.data(), r.t0.data(), r.t1.data(), r.mu.data(), r.a0.data(), r.a1.data());
  };
  CHECK(throws_with([&] { unpack(1); }, "non-salient columns"));
  CHECK(throws_with([&] { unpack(5); }, "groups=5"));
  buf.bytes[buf.view().codes - buf.bytes.data()] |= 3;   // row 0, position 0: code 3 or 7
  CHECK(throws_with([&] { unpack(4); }, "invalid code"));
}

TEST_CASE("e2m: honest bits per weight count codes, params, permutations and the header") {
  Source s = random_source(64, 1024, 4, 5);
  E2mBuffer buf = e2m_pack(s.src());
  E2mView v = buf.view();
  double code_bytes = 0;
  for (int64_t b = 0; b < v.n_blocks; ++b) code_bytes += 48 + 3 * ((v.blocks[b].n_a + 7) / 8);
  const double expect = 8.0 * (64 + 8 * 8 + 8 * 128 + 64 * code_bytes + 64 * 8 * 40) / (64.0 * 1024);
  CHECK(std::fabs(e2m_bits_per_weight(v) - expect) < 1e-12);
  CHECK(e2m_bits_per_weight(v) > 5.5);  // 3 (c0) + 2.5 (fp32 params) + the salient plane
  CHECK(buf.bytes.size() * 8.0 / (64 * 1024) >= e2m_bits_per_weight(v));
}

TEST_CASE("e2m: kernels match the reference (paths, threads, batches, ragged shapes)") {
  struct Shape {
    int64_t oc, ic, G;
  };
  for (Shape sh : {Shape{37, 128, 4}, Shape{64, 200, 4}, Shape{29, 1000, 3}, Shape{40, 2048, 4}, Shape{8, 77, 4}, Shape{16, 384, 1}})
    for (int batch : {1, 2, 3, 4, 5, 8, 16}) {
      Source s = random_source(sh.oc, sh.ic, sh.G, uint32_t(sh.oc * 7 + sh.ic + batch));
      E2mBuffer buf = e2m_pack(s.src());
      E2mView v = buf.view();
      std::vector<float> x = random_x(batch, sh.ic, uint32_t(batch));
      std::vector<float> ref(batch * sh.oc), y(batch * sh.oc);
      e2m_gemm_f32_ref(v, x.data(), batch, ref.data());
      // Integer activations: 4-bit (odd batches) or 8-bit codes, integer zero points, per-token scales.
      std::mt19937 rng{uint32_t(batch)};
      std::vector<uint8_t> q(batch * sh.ic);
      for (auto& c : q) c = uint8_t(rng() % (batch % 2 ? 16 : 256));
      std::vector<float> scale(batch), zero(batch), xh(batch * sh.ic), ref_a(batch * sh.oc);
      for (int t = 0; t < batch; ++t) scale[t] = 0.01f * float(t + 1), zero[t] = float(t % 9) * (batch % 2 ? 1 : 16);
      for (int t = 0; t < batch; ++t)
        for (int64_t k = 0; k < sh.ic; ++k) xh[t * sh.ic + k] = (float(q[t * sh.ic + k]) - zero[t]) * scale[t];
      e2m_gemm_act_ref(v, q.data(), scale.data(), zero.data(), batch, ref_a.data());
      for (E2mPath p : paths())
        for (int threads : {1, 2}) {
          CAPTURE(sh.oc, sh.ic, sh.G, batch, int(p), threads);
          E2mOpts opt;
          opt.path = p, opt.threads = threads;
          std::fill(y.begin(), y.end(), NAN);
          e2m_gemm_f32(v, x.data(), batch, y.data(), opt);
          CHECK(rel_err(s, x, batch, y, ref) < 2e-5);
          std::fill(y.begin(), y.end(), NAN);
          e2m_gemm_act(v, q.data(), scale.data(), zero.data(), batch, y.data(), opt);
          CHECK(rel_err(s, xh, batch, y, ref_a) < 2e-5);
        }
    }
}

TEST_CASE("e2m: the reference is the plain formula") {
  Source s = random_source(5, 260, 4, 11);
  E2mBuffer buf = e2m_pack(s.src());
  std::vector<float> x = random_x(2, 260, 3), y(10);
  e2m_gemm_f32_ref(buf.view(), x.data(), 2, y.data());
  for (int t = 0; t < 2; ++t)
    for (int64_t o = 0; o < 5; ++o) {
      double acc = 0;
      for (int64_t k = 0; k < 260; ++k) acc += double(x[t * 260 + k]) * s.weight(o, k);
      CHECK(y[t * 5 + o] == float(acc));
    }
}

TEST_CASE("e2m: bad input gives clear errors") {
  Source s = random_source(4, 256, 4, 1);
  SECTION("a column shared by salient and non-salient groups") {
    s.group[0] = 0, s.group[256] = 3;
    CHECK(throws_with([&] { e2m_pack(s.src()); }, "mixes salient and non-salient"));
  }
  SECTION("a second trit in an order-1 group") {
    int64_t i = 0;
    while (s.group[i] < 2) ++i;
    s.t1[i] = 1;
    CHECK(throws_with([&] { e2m_pack(s.src()); }, "order-1"));
  }
  SECTION("a non-finite param") {
    s.a0[3] = NAN;
    CHECK(throws_with([&] { e2m_pack(s.src()); }, "not finite"));
  }
  SECTION("buffers") {
    E2mBuffer buf = e2m_pack(s.src());
    std::vector<uint8_t> b = buf.bytes;
    CHECK(throws_with([&] { e2m_view(b.data(), b.size() - 64); }, "truncated"));
    CHECK(throws_with([&] { e2m_view(b.data(), b.size(), 4, 255); }, "shape mismatch"));
    b[0] ^= 1;
    CHECK(throws_with([&] { e2m_view(b.data(), b.size()); }, "bad magic"));
    b = buf.bytes;
    b[4] = 9;
    CHECK(throws_with([&] { e2m_view(b.data(), b.size()); }, "version 9"));
    b = buf.bytes;
    // A header whose sizes overflow int64 must not pass as a small buffer.
    const int64_t hdr[4] = {int64_t(1) << 40, (int64_t(1) << 31) - 1, int64_t(1) << 24, (int64_t(1) << 24) * 48};
    std::memcpy(b.data() + 8, hdr, sizeof hdr);  // oc, ic, n_blocks, row_bytes
    CHECK(throws_with([&] { e2m_view(b.data(), b.size()); }, "corrupt shape"));
    b = buf.bytes;
    b[128 + 1] = b[128];  // two permuted positions of block 0 hold the same column
    CHECK(throws_with([&] { e2m_view(b.data(), b.size()); }, "permutation"));
  }
  SECTION("arguments") {
    E2mBuffer buf = e2m_pack(s.src());
    std::vector<float> x(256), y(4);
    E2mOpts o;
    o.threads = 0;
    CHECK(throws_with([&] { e2m_gemm_f32(buf.view(), x.data(), 1, y.data(), o); }, "threads=0"));
    CHECK(throws_with([&] { e2m_gemm_f32(buf.view(), x.data(), 0, y.data()); }, "batch=0"));
  }
}
