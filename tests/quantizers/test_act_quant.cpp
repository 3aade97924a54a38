// tests/quantizers/test_act_quant.cpp: per-token activation fake-quant. compat_reference mode
// against the golden vectors bit for bit; the correct mode equals them wherever the reference's
// defects (fp16 cast, +-1e4 zero-point clamp) cannot trigger and is closer to x where they do;
// the vectorized path against a plain-loop reference.
#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/error.h"
#include "quantizers/act_quant.h"
#include "tests/catch.h"
#include "tests/support/golden_cases.h"

using namespace twla;

namespace {
struct Lac {
  const char* tag;
  double clip;
};
constexpr Lac kLacs[] = {{"0p9", 0.9}, {"1p0", 1.0}, {"none", 0.0}};

bool same_values(const Tensor& a, const Tensor& b) {
  return a.sizes() == b.sizes() && (a.to(at::kDouble) == b.to(at::kDouble)).all().item<bool>();
}

// Plain-loop definition of the correct mode, one token at a time (the slow reference).
Tensor act_fake_quant_ref(const Tensor& x_in, int bits, float clip) {
  Tensor x = x_in.contiguous().reshape({-1, x_in.size(-1)});
  Tensor y = at::empty_like(x);
  const int64_t T = x.size(0), d = x.size(1);
  const float qmax = float((1 << bits) - 1);
  const float* px = x.data_ptr<float>();
  float* py = y.data_ptr<float>();
  for (int64_t t = 0; t < T; ++t) {
    const float* r = px + t * d;
    float lo = *std::min_element(r, r + d), hi = *std::max_element(r, r + d);
    if (clip != 0) lo *= clip, hi *= clip;
    float scale = std::min(std::max((hi - lo) / qmax, 1e-5f), 1e4f);
    float zp = std::nearbyint(-lo / scale);  // default rounding mode: half to even
    for (int64_t j = 0; j < d; ++j) {
      float q = std::min(std::max(std::nearbyint(r[j] / scale) + zp, 0.0f), qmax);
      py[t * d + j] = (q - zp) * scale;
    }
  }
  return y.reshape(x_in.sizes());
}
}  // namespace

TEST_CASE("act quant golden: compat_reference mode, every input x bits x lac") {
  // out within 1e-6 max(1, |x|), scale within rtol 1e-6, round_zero_point exact, for every
  // input x bits x lac the sidecar lists (golden_check_quant.cpp).
  CHECK(test::check_golden_cases("act_quant_") >= 1);
}

TEST_CASE("act quant golden: correct mode equals the reference unless its defect triggers") {
  auto g = test::load_golden("act_quant_per_token");
  int64_t clean = 0, triggered = 0, strictly_better = 0;
  double err_correct_sum = 0, err_compat_sum = 0;
  bool near_constant_triggered = false, offset_triggered = false;
  for (const char* input : {"x", "x3d", "x_offset"}) {
    Tensor x = g.f32(input);
    const int64_t d = x.size(-1);
    for (int bits : {2, 4, 6, 8}) {
      for (const Lac& lac : kLacs) {
        std::string key = std::string(input) + ".b" + std::to_string(bits) + "_lac" + lac.tag;
        CAPTURE(key);
        AffineSpec s;
        s.bits = bits;
        s.clip = lac.clip;
        AffineParams p;
        Tensor y = act_fake_quant(x, s, &p).reshape({-1, d});
        Tensor out = g.f32(key + ".out").reshape({-1, d});
        Tensor gscale = g.f32(key + ".scale").reshape({-1, 1});
        Tensor xr = x.reshape({-1, d});
        // The defect can act on a token only if some |round(x/scale)| > 2048 (not exact in fp16)
        // or |xmin/scale| > 1e4 (the zero-point clamp); xmin after the clip.
        Tensor r = at::round(xr / gscale);
        Tensor xmin = xr.amin(-1, true) * (lac.clip != 0 ? lac.clip : 1.0);
        Tensor trig = (r.abs() > 2048).any(-1).logical_or((xmin / gscale).abs().squeeze(-1) > 1e4);
        Tensor e_cor = (y - xr).to(at::kDouble).pow(2).mean(-1);
        Tensor e_ref = (out - xr).to(at::kDouble).pow(2).mean(-1);
        for (int64_t t = 0; t < xr.size(0); ++t) {
          CAPTURE(t);
          if (!trig[t].item<bool>()) {
            ++clean;
            CHECK(at::equal(y[t], out[t]));
            CHECK(same_values(p.zero.reshape({-1, 1})[t], g.f32(key + ".round_zero_point").reshape({-1, 1})[t]));
          } else {
            ++triggered;
            if (std::string(input) == "x" && t == 2) near_constant_triggered = true;
            if (std::string(input) == "x_offset") offset_triggered = true;
            double ec = e_cor[t].item<double>(), er = e_ref[t].item<double>();
            CHECK(ec <= er);  // the correct grid point is the nearest one; the defect's is not
            strictly_better += ec < er;
            err_correct_sum += ec;
            err_compat_sum += er;
          }
        }
      }
    }
  }
  CHECK(near_constant_triggered);
  CHECK(offset_triggered);
  CHECK(strictly_better > 0);
  CHECK(err_correct_sum < err_compat_sum);
  std::printf("act quant correct vs reference: %lld clean tokens bit-identical; %lld tokens hit "
              "the defect, %lld strictly better, mean sq err %.4g (correct) vs %.4g (reference)\n",
              (long long)clean, (long long)triggered, (long long)strictly_better,
              err_correct_sum / std::max<int64_t>(triggered, 1),
              err_compat_sum / std::max<int64_t>(triggered, 1));
}

TEST_CASE("act quant: vectorized path equals the plain-loop reference") {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(7);
  Tensor x = at::randn({64, 4096}, gen, at::TensorOptions().dtype(at::kFloat));
  x.slice(0, 0, 8).mul_(30);                      // outliers
  x.slice(0, 8, 16).add_(100);                    // offset tokens
  x.slice(0, 16, 24).mul_(1e-7).add_(3);          // near-constant: scale hits 1e-5
  for (int bits : {2, 4, 8}) {
    for (const Lac& lac : kLacs) {
      CAPTURE(bits, lac.clip);
      AffineSpec s;
      s.bits = bits;
      s.clip = lac.clip;
      CHECK(at::equal(act_fake_quant(x, s), act_fake_quant_ref(x, bits, float(lac.clip))));
    }
  }
}

TEST_CASE("act quant: 16 bits is the identity; codes and symmetric grid") {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(8);
  Tensor x = at::randn({5, 3, 32}, gen, at::TensorOptions().dtype(at::kFloat));
  AffineSpec s;
  s.bits = 16;
  AffineParams p;
  CHECK(act_fake_quant(x, s, &p).is_same(x));
  CHECK(!p.scale.defined());

  s.bits = 4;
  p = affine_params(x, s);
  CHECK(p.scale.sizes() == at::IntArrayRef({5, 3, 1}));
  Tensor q = affine_codes(x, p, s);
  CHECK(q.min().item<float>() >= 0);
  CHECK(q.max().item<float>() <= 15);
  CHECK(same_values(q, at::round(q)));
  CHECK(at::equal(affine_fake_quant(x, p, s), (q - p.zero) * p.scale));

  s.symmetric = true;
  p = affine_params(x, s);
  CHECK(same_values(p.zero, at::full_like(p.zero, 7.0)));  // 2^(n-1) - 1
  Tensor absmax = std::get<0>(x.abs().max(-1, true)) * 0.9;
  CHECK(at::allclose(p.scale, absmax / 7.0));

  s.bits = 1;
  CHECK_THROWS_AS(affine_params(x, s), Error);
}
