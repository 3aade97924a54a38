// tests/quantizers/test_gptq.cpp: GPTQ against every gptq_* golden case (through
// experiments/golden_check: codes exact, started from the stored H), the row kernel against a
// plain column loop, the ternary grid, packed forms, errors and thread determinism.
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>

#include <cstdio>

#include "quantizers/gptq.h"
#include "quantizers/hessian.h"
#include "quantizers/quantizer.h"
#include "tests/catch.h"
#include "tests/support/golden_cases.h"

using namespace twla;

namespace {
Tensor randn(std::vector<int64_t> shape, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return at::randn(shape, gen, at::TensorOptions().dtype(at::kFloat));
}
// A calibration-like H for synthetic tests: (2/N) X^T X with a dead column.
Tensor synthetic_H(int64_t ic, uint64_t seed) {
  Tensor X = randn({4 * ic, ic}, seed) + randn({4 * ic, 1}, seed + 1);
  X.select(1, 3).zero_();
  return X.t().matmul(X) * (2.0 / 4);
}
}  // namespace

TEST_CASE("gptq golden: every gptq_* case from the stored H", "[gptq]") {
  // codes, zero, g_idx, perm exact; scale, Q, H_damped, Hinv, W_fed, Losses, error, damp within
  // their tolerances; Q = scale (codes - zero) and the packed form exact (golden_check_quant.cpp).
  CHECK(test::check_golden_cases("gptq_") >= 5);
}

TEST_CASE("gptq: ternary grid {min, 0, max} per group; packed as e2m", "[gptq]") {
  Tensor W = randn({24, 256}, 7);
  Tensor H = synthetic_H(256, 8);
  for (int gs : {-1, 64, 128}) {
    for (bool ao : {false, true}) {
      CAPTURE(gs, ao);
      GptqConfig cfg;
      cfg.ternary = true;
      cfg.group_size = gs;
      cfg.act_order = ao;
      GptqOutput o = gptq_quantize(W, H, cfg);
      CHECK(o.codes.abs().max().item<int64_t>() <= 1);
      Tensor hi = o.scale.index_select(1, o.g_idx), lo = o.zero.index_select(1, o.g_idx);
      Tensor expect = at::where(o.codes == 1, hi, at::where(o.codes == -1, lo, at::zeros_like(hi)));
      CHECK(at::equal(expect, o.Q));
      CHECK(at::equal(dequantize(gptq_pack(o, cfg)), o.Q));
      CHECK(o.Q.select(1, 3).abs().max().item<float>() == 0.f);   // dead column -> code 0
    }
  }
}

TEST_CASE("gptq: small groups, act-order with dynamic groups, packed forms", "[gptq]") {
  Tensor W = randn({16, 192}, 11);
  Tensor H = synthetic_H(192, 12);
  for (int gs : {32, 64, 256}) {
    for (bool ao : {false, true}) {
      CAPTURE(gs, ao);
      GptqConfig cfg;
      cfg.bits = 3;
      cfg.group_size = gs;
      cfg.act_order = ao;
      cfg.blocksize = 64;
      GptqOutput o = gptq_quantize(W, H, cfg);
      CHECK(o.codes.min().item<int64_t>() >= 0);
      CHECK(o.codes.max().item<int64_t>() <= 7);
      CHECK(o.scale.size(1) == (192 + std::min(gs, 192) - 1) / std::min(gs, 192));
      PackedWeight p = gptq_pack(o, cfg);
      CHECK(at::equal(dequantize(p), o.Q));
      CHECK(p.bits_per_weight > 3.0);
      CHECK(p.bits_per_weight < 4.5 + (ao ? 32.0 / 16 : 0.0));   // g_idx: 32 bits per column
      // GPTQ beats plain rounding with the same grids in the output metric tr(E H E^T).
      Tensor s = o.scale.index_select(1, o.g_idx), z = o.zero.index_select(1, o.g_idx);
      Tensor Wz = W.clone();
      Wz.select(1, 3).zero_();
      Tensor rtn = s * (at::clamp(at::round(Wz / s) + z, 0, 7) - z);
      auto metric = [&](const Tensor& Q) { return ((Q - Wz).matmul(H) * (Q - Wz)).sum().item<double>(); };
      CHECK(metric(o.Q) < metric(rtn));
    }
  }
}

TEST_CASE("gptq: user errors name the field or the layer", "[gptq]") {
  Tensor W = randn({4, 8}, 1);
  Tensor H = synthetic_H(8, 2);
  GptqConfig cfg;
  cfg.bits = 9;
  CHECK_THROWS_WITH(gptq_quantize(W, H, cfg), Catch::Matchers::Contains("gptq.bits=9"));
  cfg = GptqConfig{};
  Tensor Wn = W.clone();
  Wn[1][2] = std::numeric_limits<float>::infinity();
  CHECK_THROWS_WITH(gptq_quantize(Wn, H, cfg, "layers.2.mlp.up_proj"),
                    Catch::Matchers::Contains("layers.2.mlp.up_proj"));
  Tensor Hn = H.clone();
  Hn[0][0] = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS_WITH(gptq_quantize(W, Hn, cfg, "L"), Catch::Matchers::Contains("NaN"));
  CHECK_THROWS_WITH(gptq_quantize(W, -at::eye(8), cfg, "L"),
                    Catch::Matchers::Contains("not positive definite"));
}

TEST_CASE("gptq: bit-identical on 1 and 2 threads", "[gptq][threads]") {
  Tensor W = randn({512, 384}, 21);   // > ATen grain size per block
  Tensor H = synthetic_H(384, 22);
  GptqConfig cfg;
  cfg.group_size = 128;
  cfg.act_order = true;
  const int before = at::get_num_threads();
  at::set_num_threads(1);
  GptqOutput a = gptq_quantize(W, H, cfg);
  at::set_num_threads(2);
  GptqOutput b = gptq_quantize(W, H, cfg);
  at::set_num_threads(before);
  CHECK(at::equal(a.Q, b.Q));
  CHECK(a.error == b.error);
}

// GPTQ per row grid, asymmetric, no act-order, written as the reference's column loop in tensor
// ops (fasterquant: q, err = (w - q) / d, W1[:, i:] -= err U1[i, i:] as a product then a
// difference; the lazy update as the same addmm_). The row kernel of gptq.cpp must give the
// same bits, including on ragged blocks and a partial last chunk of rows (oc 150 = 2 x 64 + 22).
Tensor plain_gptq(const Tensor& W0, const Tensor& H0, const GptqConfig& cfg) {
  const int64_t ic = W0.size(1);
  const float maxq = float((1 << cfg.bits) - 1);
  Tensor W = W0.clone(), H = H0.clone();
  Tensor xmin = at::minimum(std::get<0>(W.min(1)), at::zeros({W.size(0)}));
  Tensor xmax = at::maximum(std::get<0>(W.max(1)), at::zeros({W.size(0)}));
  Tensor scale = (xmax - xmin) / double(maxq), zero = at::round(-xmin / scale);
  fix_dead_columns(H, W);
  damp_hessian(H, cfg.percdamp);
  Tensor U = cfg.hinv_reference ? inverse_cholesky_upper(H, "plain", cfg.percdamp)
                                : inverse_cholesky_upper_direct(H, "plain", cfg.percdamp);
  Tensor Q = at::zeros_like(W);
  for (int64_t i1 = 0; i1 < ic; i1 += cfg.blocksize) {
    const int64_t i2 = std::min<int64_t>(i1 + cfg.blocksize, ic), n = i2 - i1;
    Tensor W1 = W.narrow(1, i1, n).clone(), E1 = at::zeros_like(W1);
    Tensor U1 = U.narrow(0, i1, n).narrow(1, i1, n);
    for (int64_t i = 0; i < n; ++i) {
      Tensor w = W1.select(1, i).clone();
      Tensor q = at::clamp(at::round(w / scale) + zero, 0, maxq);
      q = scale * (q - zero);
      Q.select(1, i1 + i).copy_(q);
      Tensor err = (w - q) / U1[i][i];
      W1.narrow(1, i, n - i).sub_(err.unsqueeze(1) * U1[i].narrow(0, i, n - i).unsqueeze(0));
      E1.select(1, i).copy_(err);
    }
    if (i2 < ic) W.narrow(1, i2, ic - i2).addmm_(E1, U.narrow(0, i1, n).narrow(1, i2, ic - i2), 1, -1);
  }
  return Q;
}

TEST_CASE("gptq: the row kernel equals the plain column loop bit for bit, ragged blocks too", "[gptq]") {
  for (auto [ic, bs] : std::vector<std::pair<int64_t, int>>{{256, 128}, {200, 100}, {61, 13}, {40, 7}})
    for (int64_t oc : {48, 150})
      for (bool ref : {false, true}) {
        INFO("oc " << oc << ", ic " << ic << ", blocksize " << bs << ", hinv_reference " << ref);
        Tensor W = randn({oc, ic}, 41) * 0.02;
        Tensor H = synthetic_H(ic, 42);
        GptqConfig cfg;
        cfg.bits = 3;
        cfg.blocksize = bs;
        cfg.hinv_reference = ref;
        CHECK(at::equal(gptq_quantize(W, H, cfg).Q, plain_gptq(W, H, cfg)));
      }
}

TEST_CASE("gptq plugin: thin shell over gptq_quantize", "[gptq]") {
  auto q = quantizers().make(PluginSpec{"gptq", YAML::Load("{bits: 3, group_size: 128}")}, "quantizer");
  CHECK(q->needs_calibration());
  CHECK(q->nominal_bits() == "3");
  Tensor W = randn({16, 256}, 31);
  LayerStats s;
  s.H = synthetic_H(256, 32);
  QuantResult r = q->quantize(LinearRef{"layers.0.mlp.down_proj", 0, W}, &s);
  GptqConfig cfg;
  cfg.bits = 3;
  cfg.group_size = 128;
  CHECK(at::equal(r.dequant, gptq_quantize(W, s.H, cfg).Q));
  CHECK(r.report.output_err > 0);
  CHECK_THROWS_WITH(q->quantize(LinearRef{"layers.0.mlp.down_proj", 0, W}, nullptr),
                    Catch::Matchers::Contains("layers.0.mlp.down_proj"));
  CHECK_THROWS_WITH(quantizers().make(PluginSpec{"gptq", YAML::Load("{bits: 9}")}, "quantizer"),
                    Catch::Matchers::Contains("quantizer.bits=9"));
  CHECK(quantizers().make(PluginSpec{"gptq", YAML::Load("{ternary: true}")}, "quantizer")->nominal_bits() == "1.58");
}
