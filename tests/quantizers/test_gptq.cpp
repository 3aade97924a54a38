// tests/quantizers/test_gptq.cpp: GPTQ against every gptq_* golden case (through
// experiments/golden_check: codes exact, started from the stored H), the row kernel against a
// plain column loop, the ternary grid, packed forms (act-order groups: [oc, G] params + int32
// g_idx, their storage accounting and e2m kernel layout), errors and thread determinism.
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>

#include <cstdio>
#include <string>

#include "core/error.h"
#include "experiments/packed_formats.h"
#include "kernels/e2m.h"
#include "quantizers/e2m_convert.h"
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

namespace {
bool bitwise_equal(const Tensor& a, const Tensor& b) {
  return a.sizes() == b.sizes() && at::equal(a.contiguous().view(at::kInt), b.contiguous().view(at::kInt));
}
// bits_per_weight from what the parts hold: codes (n bits, or 1.6 per ternary plane entry as 5
// trits per byte), fp16 scale/alpha0 and the zero point (n bits; ternary: fp16 alpha1), 32 bits
// per g_idx entry. GPTQ-ternary's group ids and mu are constant 0 and not stored.
double stored_bits(const PackedWeight& p, int bits) {
  const double n = double(p.shape[0] * p.shape[1]);
  const double gidx = p.parts.count("g_idx") ? 32.0 * double(p.parts.at("g_idx").numel()) : 0.0;
  if (p.format == "uniform")
    return (double(bits) * double(p.parts.at("codes").numel() + p.parts.at("zero").numel()) +
            16.0 * double(p.parts.at("scale").numel()) + gidx) / n;
  return (1.6 * double(p.parts.at("t0").numel()) +
          16.0 * double(p.parts.at("alpha0").numel() + p.parts.at("alpha1").numel()) + gidx) / n;
}
}  // namespace

TEST_CASE("gptq pack: act-order groups stored as [oc, G] params + int32 g_idx, exact, honest bits", "[gptq]") {
  // 512 columns: four groups of 128; 200: a partial last group (72 columns) and a partial block.
  for (int64_t ic : {512, 200}) {
    for (bool ternary : {false, true}) {
      for (bool ao : {false, true}) {
        CAPTURE(ic, ternary, ao);
        const int64_t oc = 32, G = (ic + 127) / 128;
        Tensor W = randn({oc, ic}, 51 + ic);
        Tensor H = synthetic_H(ic, 52 + ic);
        GptqConfig cfg;
        cfg.ternary = ternary;
        cfg.group_size = 128;
        cfg.act_order = ao;
        GptqOutput o = gptq_quantize(W, H, cfg);
        PackedWeight p = gptq_pack(o, cfg);
        CHECK(bitwise_equal(dequantize(p), o.Q));
        CHECK(p.format == (ternary ? "e2m" : "uniform"));
        // Params one per row and group, never per column.
        for (const char* k : {"scale", "zero", "alpha0", "alpha1"})
          if (p.parts.count(k)) CHECK(p.parts.at(k).size(1) == G);
        REQUIRE(p.parts.count("g_idx") == (ao ? 1u : 0u));
        CHECK(p.attrs.count("g_idx") == (ao ? 1u : 0u));
        if (ao) {
          CHECK(p.parts.at("g_idx").scalar_type() == at::kInt);
          CHECK(at::equal(p.parts.at("g_idx").to(at::kLong), o.g_idx));
          CHECK_FALSE(at::equal(o.g_idx, at::arange(ic, at::kLong).div(128, "floor")));   // really scattered
        }
        CHECK(p.bits_per_weight == Approx(stored_bits(p, cfg.bits)).epsilon(1e-12));
        CHECK(p.bits_per_weight ==
              Approx((ternary ? 1.6 + G * 32.0 / ic : 4 + G * 20.0 / ic) + (ao ? 32.0 / oc : 0)).epsilon(1e-12));
      }
    }
  }
}

TEST_CASE("gptq pack: a corrupt g_idx is an error, not other weights", "[gptq]") {
  Tensor W = randn({8, 256}, 53);
  GptqConfig cfg;
  cfg.group_size = 64;
  cfg.act_order = true;
  PackedWeight p = gptq_pack(gptq_quantize(W, synthetic_H(256, 54), cfg), cfg);
  REQUIRE(p.parts.count("g_idx"));
  PackedWeight bad = p;
  bad.parts.at("g_idx") = p.parts.at("g_idx").clone();
  bad.parts.at("g_idx")[7] = 4;   // only groups 0..3 exist
  CHECK_THROWS_WITH(dequantize(bad), Catch::Matchers::Contains("g_idx names a group outside [0, 4)"));
  bad = p;
  bad.parts.erase("g_idx");
  CHECK_THROWS_WITH(dequantize(bad), Catch::Matchers::Contains("attr g_idx = 1 but no part 'g_idx'"));
  bad = p;
  bad.attrs.erase("g_idx");
  CHECK_THROWS_WITH(dequantize(bad), Catch::Matchers::Contains("a part 'g_idx' but not attr g_idx = 1"));
}

TEST_CASE("gptq pack: ternary act-order layers on the e2m kernels when a block holds <= 2 groups", "[gptq]") {
  const int64_t oc = 24;
  Tensor H256 = synthetic_H(256, 56), H320 = synthetic_H(320, 58);
  // (ic, group size): 2 groups over 256 columns always fit; 5 groups of 64 over 320 do not.
  for (auto [ic, gs] : std::vector<std::pair<int64_t, int>>{{256, 128}, {320, 64}}) {
    CAPTURE(ic, gs);
    GptqConfig cfg;
    cfg.ternary = true;
    cfg.group_size = gs;
    cfg.act_order = true;
    GptqOutput o = gptq_quantize(randn({oc, ic}, 55), ic == 256 ? H256 : H320, cfg);
    PackedWeight p = gptq_pack(o, cfg);
    REQUIRE(p.attrs.count("g_idx"));
    int64_t most = 0;   // GPTQ groups per 128-column kernel block
    for (int64_t st = 0; st < ic; st += 128)
      most = std::max(most, std::get<0>(at::_unique(o.g_idx.narrow(0, st, std::min<int64_t>(128, ic - st)))).numel());
    if (ic == 256) {
      REQUIRE(most == 2);
      CHECK(e2m_kernel_supports(p));
      PackedWeight k = e2m_kernel_blocks(p);
      CHECK(k.attrs.at("groups") == 4);
      CHECK(k.attrs.at("block_size") == 128);
      CHECK(k.parts.count("g_idx") == 0);
      CHECK(bitwise_equal(dequantize(k), o.Q));
      kernels::E2mBuffer buf = e2m_to_kernel(p);
      Tensor Wk = at::empty({oc, ic}, at::kFloat);
      kernels::e2m_dequantize(buf.view(), Wk.data_ptr<float>());
      CHECK(bitwise_equal(Wk, o.Q));
      // A packed model stores it as the e2m buffer, with the attrs of the kernel layout.
      const PackedFormat& f = choose_packed_format(p, "L");
      CHECK(f.name == "e2m");
      CHECK(bitwise_equal(dequantize(f.decode(f.encode(p), p.shape, "test")), o.Q));
    } else {
      REQUIRE(most > 2);
      CHECK_FALSE(e2m_kernel_supports(p));
      std::string msg;
      try {
        e2m_to_kernel(p);
      } catch (const Error& e) {
        msg = e.what();
      }
      CAPTURE(msg);
      CHECK(msg.find("act-order GPTQ groups") != std::string::npos);
      CHECK(msg.find("static_groups: true") != std::string::npos);
      const PackedFormat& f = choose_packed_format(p, "L");   // stored part by part, g_idx too
      CHECK(f.name == "parts-e2m");
      PackedWeight r = f.decode(f.encode(p), p.shape, "test");
      CHECK(r.parts.count("g_idx") == 1);
      CHECK(bitwise_equal(dequantize(r), o.Q));
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
