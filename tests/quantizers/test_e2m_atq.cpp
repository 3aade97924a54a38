// tests/quantizers/test_e2m_atq.cpp: E2M-ATQ against every e2m_atq_* golden case (primitives,
// full layers with their per-block intermediates, the RTN path with and without compat), the
// quantile rule, edge blocks, errors, packing and thread determinism.
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>

#include <chrono>
#include <cstdio>

#include "core/error.h"
#include "quantizers/e2m_atq.h"
#include "quantizers/e2m_atq_fit.h"
#include "quantizers/e2m_atq_masks.h"
#include "quantizers/e2m_atq_rowfit.h"
#include "quantizers/hessian.h"
#include "quantizers/quantizer.h"
#include "tests/catch.h"
#include "tests/support/golden.h"

using namespace twla;

namespace {
// max over elements of |a-b| / (rtol |b| + atol); <= 1 passes.
double worst_ratio(const Tensor& a, const Tensor& b, double rtol, double atol) {
  if (!a.numel()) return 0;
  Tensor ad = a.to(at::kDouble), bd = b.to(at::kDouble);
  Tensor r = (ad - bd).abs() / (bd.abs() * rtol + atol);
  return at::where(ad == bd, at::zeros_like(r), r).max().item<double>();   // 0/0 where equal
}
Tensor vec(const std::vector<double>& v) {
  return at::tensor(at::ArrayRef<double>(v), at::TensorOptions().dtype(at::kDouble));
}
Tensor randn(std::vector<int64_t> shape, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return at::randn(shape, gen, at::TensorOptions().dtype(at::kFloat));
}
struct Layer {
  Tensor W, H;
  std::vector<Tensor> S;
};
Layer synthetic_layer(int64_t oc, int64_t ic, uint64_t seed) {
  Layer l;
  l.W = randn({oc, ic}, seed) * 0.02;
  Tensor X = randn({4, 64, ic}, seed + 1) + randn({4, 64, 1}, seed + 2) * 0.5;
  HessianAccumulator acc;
  std::vector<Tensor> seqs;
  for (int64_t j = 0; j < 4; ++j) {
    hessian_add_batch(acc, X[j]);
    seqs.push_back(X[j]);
  }
  l.H = acc.H;
  l.S = s_blocks_from_sequences(seqs, 128);
  return l;
}
}  // namespace

TEST_CASE("e2m golden: ternary fitting primitives", "[e2m]") {
  auto g = test::load_golden("e2m_atq_primitives_16x128");
  Tensor x = g.f32("x"), S = g.f32("S");
  double worst = 0;
  for (const char* m : {"rand", "cols", "emptyrow", "full"}) {
    CAPTURE(m);
    Tensor mask = g.t(std::string("mask.") + m).to(at::kBool);
    auto key = [&](const char* what) { return std::string(m) + "." + what; };
    auto check = [&](const Tensor& got, const char* what) {
      CAPTURE(what);
      Tensor ref = g.f32(key(what));
      double r = worst_ratio(got, ref, 1e-5, 1e-7);
      worst = std::max(worst, r);
      CHECK(r <= 1);
      CHECK(got.masked_select(mask.logical_not()).abs().sum().item<float>() == 0.f);
    };
    check(e2m::greedy_fit(x, mask, 1), "hor_o1");
    check(e2m::greedy_fit(x, mask, 2), "hor_o2");
    check(e2m::alternating_fit(x, mask, 1, 15).value, "alt_o1");
    check(e2m::alternating_fit(x, mask, 2, 15).value, "alt_o2");
    check(e2m::ternarize(x, mask, 1, Tensor(), 15, 15).value, "x_o1_noS");
    check(e2m::ternarize(x, mask, 1, S, 15, 15).value, "x_o1");
    check(e2m::ternarize(x, mask, 2, Tensor(), 15, 15).value, "x_o2_noS");
    check(e2m::ternarize(x, mask, 2, S, 15, 15).value, "x_o2");
  }
  std::printf("golden e2m_atq_primitives_16x128: worst |diff|/(1e-5|ref|+1e-7) = %.3g (pass <= 1)\n",
              worst);
}

TEST_CASE("e2m: fused row kernels are bit-identical to the tensor code", "[e2m]") {
  // The summation order of ATen's CPU sum, every row length class (scalar, vector, cascade).
  for (int64_t n : {1, 3, 5, 7, 8, 9, 33, 40, 64, 100, 127, 128, 256, 512, 1000, 4096}) {
    CAPTURE(n);
    Tensor x = randn({16, n}, n) * 1000;
    Tensor s = x.sum(1), ns = at::nansum(at::where(x > 1000, at::full_like(x, NAN), x), {1});
    for (int64_t r = 0; r < 16; ++r) {
      CHECK(e2m::row::aten_sum(x[r].data_ptr<float>(), n) == s[r].item<float>());
      Tensor z = at::where(x[r] > 1000, at::zeros_like(x[r]), x[r]).contiguous();
      CHECK(e2m::row::aten_sum(z.data_ptr<float>(), n) == ns[r].item<float>());
    }
  }
  // Greedy fits on the golden primitives' masks and on random masks of several widths.
  auto g = test::load_golden("e2m_atq_primitives_16x128");
  std::vector<std::pair<Tensor, Tensor>> cases;
  for (const char* m : {"rand", "cols", "emptyrow", "full"})
    cases.push_back({g.f32("x"), g.t(std::string("mask.") + m).to(at::kBool)});
  for (int64_t w : {5, 40, 44, 64, 128, 256, 512}) {
    Tensor x = randn({12, w}, 100 + w).abs();
    cases.push_back({x, randn({12, w}, 200 + w) > 0.3});
  }
  for (auto& [x, mask] : cases) {
    const int64_t rows = x.size(0), w = x.size(1);
    CAPTURE(w);
    for (int order : {1, 2}) {
      Tensor ref = e2m::greedy_fit(x, mask, order);
      Tensor got = at::empty_like(x);
      Tensor mb = mask.contiguous();
      std::vector<float> scratch(4 * w);
      for (int64_t r = 0; r < rows; ++r)
        e2m::row::greedy_fit(x[r].data_ptr<float>(), mb[r].data_ptr<bool>(), w, order,
                        got[r].data_ptr<float>(), scratch.data());
      CHECK(at::equal(got, ref));
    }
  }
}

TEST_CASE("e2m: Stage 1 + Stage 2 row kernels are bit-identical to the tensor code", "[e2m]") {
  // ternarize_rows (row kernels, one GEMM per product with S) against ternarize (tensor ops) on
  // the golden primitives' masks and on random masks of several widths, with and without S.
  auto g = test::load_golden("e2m_atq_primitives_16x128");
  struct C { Tensor x, mask, S; };
  std::vector<C> cases;
  for (const char* m : {"rand", "cols", "emptyrow", "full"})
    cases.push_back({g.f32("x"), g.t(std::string("mask.") + m).to(at::kBool), g.f32("S")});
  for (int64_t w : {5, 40, 64, 128, 200}) {
    Tensor x = randn({37, w}, 300 + w) * 0.02;
    Tensor A = randn({w, w}, 400 + w);
    cases.push_back({x, randn({37, w}, 500 + w) > -0.2, A.t().matmul(A) / double(w)});
  }
  for (auto& c : cases) {
    CAPTURE(c.x.size(1));
    for (int order : {1, 2})
      for (bool withS : {false, true}) {
        CAPTURE(order, withS);
        Tensor S = withS ? c.S : Tensor();
        e2m::TernaryFit ref = e2m::ternarize(c.x, c.mask, order, S, 15, 15);
        e2m::TernaryFit got = e2m::ternarize_rows(c.x, c.mask, order, S, 15, 15);
        CHECK(at::equal(got.value, ref.value));
        CHECK(at::equal(got.t0, ref.t0));
        CHECK(at::equal(got.t1, ref.t1));
        CHECK(at::equal(got.mu, ref.mu));
        CHECK(at::equal(got.a0, ref.a0));
        CHECK(at::equal(got.a1, ref.a1));
      }
  }
}

TEST_CASE("e2m: numpy quantile rule", "[e2m]") {
  // 0.1 of [0, 1, 2, 3]: the virtual index 3 * 0.1f rounds in fp32 to 0.30000001192092896,
  // which numpy 1.24 returns (numpy 2 and an fp64 index would give 0.30000000447034836).
  std::vector<float> d = {3.f, 0.f, 2.f, 1.f};
  auto q = e2m::numpy_quantiles(d, e2m::kQuantileQ, 81);
  CHECK(q[0] == 0.30000001192092896);
  CHECK(q[80] == static_cast<double>(3.f * e2m::kQuantileQ[80]));
  CHECK(q[40] == 1.5);
  CHECK(e2m::numpy_quantiles({}, e2m::kQuantileQ, 81)[5] == 0.0);
}

namespace {
void check_full_case(const char* name, bool rtn) {
  auto g = test::load_golden(name);
  const auto& sc = g.meta["scalars"];
  Tensor X = g.f32("X");
  std::vector<Tensor> seqs;
  for (int64_t j = 0; j < X.size(0); ++j) seqs.push_back(X[j]);
  E2mAtqConfig cfg;   // the pipeline's defaults: percdamp 0.1, 128, 64, 15 + 15
  if (rtn) {
    cfg.feedback = false;
    cfg.stage2 = false;   // the reference's RTN branch fits without S
  }
  E2mAtqOutput o = e2m_atq_quantize_from_inputs(g.f32("W"), g.f32("H"), seqs, cfg, name, true);
  CHECK(worst_ratio(o.Hinv, g.f32("Hinv"), 1e-4, 1e-6 * max_abs(g.f32("Hinv"))) <= 1);
  std::printf("golden %s: Hinv max|diff| %.3g (max|Hinv| %.3g), bit-identical %s\n", name,
              max_abs_diff(o.Hinv, g.f32("Hinv")), max_abs(g.f32("Hinv")),
              at::equal(o.Hinv, g.f32("Hinv")) ? "yes" : "no");
  CHECK(o.dead == sc["dead_columns"].get<std::vector<int64_t>>());
  CHECK(std::abs(o.damp - sc["damp"].get<double>()) <= 1e-6 * sc["damp"].get<double>());
  REQUIRE(o.trace.size() == sc["blocks"].size());
  double w_float = 0, w_err = 0, w_q = 0;
  int64_t n_off = 0, n_curve = 0;
  for (size_t b = 0; b < o.trace.size(); ++b) {
    CAPTURE(b);
    const auto& t = o.trace[b];
    const auto& jb = sc["blocks"][b];
    auto key = [&](const char* what) { return "block" + std::to_string(b) + "." + what; };
    auto flt = [&](const Tensor& got, const char* what) {
      CAPTURE(what);
      Tensor ref = g.f32(key(what));
      double r = worst_ratio(got, ref, 1e-4, 1e-6 * max_abs(ref));
      w_float = std::max(w_float, r);
      CHECK(r <= 1);
    };
    // End to end, a block's inputs differ from the reference's by ~1e-8 (Stage 2 sums in
    // another order, LAPACK kernels), and the search's tiny groups (a few entries per row) put
    // entries exactly on a ternary threshold, so single candidates' errors can move by percents
    // while the choices stay put. The curves are asserted at 1e-5 from the reference's own block
    // inputs ("mask search from the stored block inputs"); here they are counted and reported.
    auto curve = [&](const std::vector<double>& got, const char* what, double rtol) {
      CAPTURE(what);
      Tensor ref = g.f64(key(what));
      REQUIRE(static_cast<int64_t>(got.size()) == ref.numel());
      Tensor gv = vec(got);
      CHECK(at::isfinite(gv).all().item<bool>());
      w_err = std::max(w_err, worst_ratio(gv, ref, rtol, 0));
      Tensor rel = ((gv - ref).abs() / ref.abs()).nan_to_num(0, 0, 0);
      n_off += (rel > rtol).sum().item<int64_t>();
      n_curve += ref.numel();
    };
    flt(t.W_in, "W_in");
    flt(t.target, "target");
    flt(t.col_score, "col_score");
    Tensor topk = g.t(key("topk_cols"));
    std::vector<int64_t> ref_top(topk.data_ptr<int64_t>(), topk.data_ptr<int64_t>() + topk.numel());
    CHECK(t.ranked_cols == ref_top);
    curve(t.err_salient, "err_salient", 1e-4);
    CHECK(t.n_salient == jb["n_salient_cols"].get<int>());
    curve(t.split2_candidates, "split2_candidates", 1e-5);
    curve(t.err_split2, "err_split2", 1e-4);
    CHECK(t.split2_index == jb["split2_index"].get<int>());
    curve(t.split1_candidates, "split1_candidates", 1e-5);
    curve(t.err_split1, "err_split1", 1e-4);
    CHECK(t.split1_index == jb["split1_index"].get<int>());
    const char* mnames[] = {"mask_sal_hi", "mask_sal_lo", "mask_nonsal_hi", "mask_nonsal_lo"};
    REQUIRE(t.masks.size() == 4);
    for (int k = 0; k < 4; ++k) {
      CAPTURE(k);
      CHECK(at::equal(t.masks[k], g.t(key(mnames[k])).to(at::kBool)));
      CHECK(t.masks[k].sum().item<int64_t>() == jb["mask_counts"][k].get<int64_t>());
      flt(t.qparts[k], ("qpart" + std::to_string(k)).c_str());
    }
    CHECK(t.orders == std::vector<int>{2, 2, 1, 1});
  }
  Tensor Qref = g.f32(rtn ? "W_rtn_intended" : "Q");
  w_q = worst_ratio(o.Q, Qref, 1e-4, 1e-6 * max_abs(Qref));
  CHECK(w_q <= 1);
  CHECK(at::equal(dequantize(o.packed), o.Q));
  if (!rtn) {
    const double err = sc["error"].get<double>();
    CHECK(std::abs(o.error - err) <= 1e-3 * err);
    std::printf("golden %s: error %.8g vs %.8g (rtol %.2g)\n", name, o.error, err,
                std::abs(o.error - err) / err);
  }
  std::printf("golden %s: discrete choices exact; worst ratio to tolerance: tensors %.3g, "
              "Q %.3g (pass <= 1); Q max|diff| %.3g; error curves: %lld of %lld entries beyond "
              "rtol 1e-4 (worst %.3g x tol); bpw %.3f\n",
              name, w_float, w_q, max_abs_diff(o.Q, Qref), (long long)n_off, (long long)n_curve,
              w_err, o.packed.bits_per_weight);
}
}  // namespace

TEST_CASE("e2m golden: mask search from the stored block inputs", "[e2m]") {
  for (const char* name : {"e2m_atq_full_32x256", "e2m_atq_full_16x192_dead_partial",
                           "e2m_atq_ternary_rtn_32x256"}) {
    CAPTURE(name);
    auto g = test::load_golden(name);
    Tensor U = g.f32("Hinv");
    for (size_t b = 0; b < g.meta["scalars"]["blocks"].size(); ++b) {
      CAPTURE(b);
      auto key = [&](const char* what) { return "block" + std::to_string(b) + "." + what; };
      Tensor W_in = g.f32(key("W_in"));
      const int64_t st = 128 * b, w = W_in.size(1);
      e2m::MaskSearchTrace t;
      e2m::MaskSearchOptions opt;
      e2m::search_masks(W_in, U.narrow(0, st, w).narrow(1, st, w), g.f32(key("S")), opt, &t);
      for (const char* c : {"err_salient", "err_split2", "err_split1", "split2_candidates", "split1_candidates"}) {
        CAPTURE(c);
        const auto& got = std::string(c) == "err_salient" ? t.err_salient
                        : std::string(c) == "err_split2" ? t.err_split2
                        : std::string(c) == "err_split1" ? t.err_split1
                        : std::string(c) == "split2_candidates" ? t.split2_candidates : t.split1_candidates;
        Tensor ref = g.f64(key(c));
        Tensor gv = vec(got);
        int64_t at_i = ((gv - ref).abs() / ref.abs()).nan_to_num(0, 0, 0).argmax().item<int64_t>();
        INFO("worst at " << at_i << ": got " << got[at_i] << " ref " << ref[at_i].item<double>());
        CHECK(worst_ratio(gv, ref, 1e-5, 0) <= 1);
      }
    }
  }
}

TEST_CASE("e2m golden: full layer 32x256", "[e2m]") { check_full_case("e2m_atq_full_32x256", false); }

TEST_CASE("e2m golden: dead channel, partial 64-column block", "[e2m]") {
  check_full_case("e2m_atq_full_16x192_dead_partial", false);
}

TEST_CASE("e2m golden: RTN path gives the intended result; compat gives the reference's zeros",
          "[e2m]") {
  check_full_case("e2m_atq_ternary_rtn_32x256", true);
  auto g = test::load_golden("e2m_atq_ternary_rtn_32x256");
  Tensor X = g.f32("X");
  std::vector<Tensor> seqs;
  for (int64_t j = 0; j < X.size(0); ++j) seqs.push_back(X[j]);
  E2mAtqConfig cfg;
  cfg.feedback = false;
  cfg.compat_reference = true;
  E2mAtqOutput o = e2m_atq_quantize_from_inputs(g.f32("W"), g.f32("H"), seqs, cfg);
  CHECK(at::equal(o.Q, g.f32("Q_reference_output")));
  CHECK(at::equal(dequantize(o.packed), o.Q));
}

TEST_CASE("e2m: a last block narrower than max_salient", "[e2m]") {
  Layer l = synthetic_layer(16, 128 + 40, 3);
  E2mAtqConfig cfg;
  E2mAtqOutput o = e2m_atq_quantize(l.W, l.H, l.S, cfg, "narrow", true);
  REQUIRE(o.trace.size() == 2);
  CHECK(o.trace[1].err_salient.size() == 39);
  CHECK(at::equal(dequantize(o.packed), o.Q));
  Tensor cover = o.trace[1].masks[0].to(at::kInt);
  for (size_t k = 1; k < o.trace[1].masks.size(); ++k) cover += o.trace[1].masks[k].to(at::kInt);
  CHECK(cover.eq(1).all().item<bool>());   // the masks partition the block
  cfg.compat_reference = true;
  CHECK_THROWS_WITH(e2m_atq_quantize(l.W, l.H, l.S, cfg, "narrow"),
                    Catch::Matchers::Contains("narrower"));
}

TEST_CASE("e2m: ablation switches keep a valid partition and packed form", "[e2m]") {
  Layer l = synthetic_layer(16, 256, 5);
  E2mAtqConfig base;
  E2mAtqOutput ref = e2m_atq_quantize(l.W, l.H, l.S, base);
  auto out_err = [&](const Tensor& Q) {
    Tensor E = Q - l.W;
    return (E.matmul(l.H) * E).sum().item<double>();
  };
  for (int which = 0; which < 5; ++which) {
    CAPTURE(which);
    E2mAtqConfig cfg;
    if (which == 0) cfg.stage2 = false;
    if (which == 1) cfg.salient_search = false;
    if (which == 2) cfg.feedback = false;
    if (which == 3) cfg.order2 = false;
    if (which == 4) cfg.split_salient = false;
    E2mAtqOutput o = e2m_atq_quantize(l.W, l.H, l.S, cfg);
    CHECK(at::equal(dequantize(o.packed), o.Q));
    CHECK(std::isfinite(out_err(o.Q)));
    CHECK(o.packed.attrs.at("groups") == (which == 4 ? 3 : 4));
  }
  // Quantization does something sensible: the output error is well below that of zeros.
  CHECK(out_err(ref.Q) < 0.5 * out_err(at::zeros_like(l.W)));
  CHECK(ref.packed.bits_per_weight > 3.0);
  CHECK(ref.packed.bits_per_weight < 6.0);
}

TEST_CASE("e2m: user errors", "[e2m]") {
  Layer l = synthetic_layer(8, 128, 9);
  E2mAtqConfig cfg;
  Tensor W = l.W.clone();
  W[0][0] = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS_WITH(e2m_atq_quantize(W, l.H, l.S, cfg, "layers.1.self_attn.o_proj"),
                    Catch::Matchers::Contains("layers.1.self_attn.o_proj"));
  CHECK_THROWS_WITH(e2m_atq_quantize(l.W, -at::eye(128), l.S, cfg, "L"),
                    Catch::Matchers::Contains("not positive definite"));
  CHECK_THROWS_WITH(e2m_atq_quantize(l.W, l.H, {}, cfg, "L"), Catch::Matchers::Contains("S blocks"));
}

TEST_CASE("e2m: bit-identical on 1 and 2 threads", "[e2m][threads]") {
  // 272 x 128 > ATen's grain size, so reductions and loops do split across threads.
  Layer l = synthetic_layer(272, 256, 13);
  E2mAtqConfig cfg;
  cfg.max_salient = 8;   // keeps the test short; every code path still runs
  const int before = at::get_num_threads();
  at::set_num_threads(1);
  E2mAtqOutput a = e2m_atq_quantize(l.W, l.H, l.S, cfg);
  at::set_num_threads(2);
  E2mAtqOutput b = e2m_atq_quantize(l.W, l.H, l.S, cfg);
  at::set_num_threads(before);
  CHECK(at::equal(a.Q, b.Q));
  CHECK(a.error == b.error);
}

// Not a unit test: `test_quantizers "[.bench]"` prints per-block timing of a synthetic layer.
TEST_CASE("e2m: per-block timing of a synthetic layer", "[.bench]") {
  const int64_t oc = getenv("E2M_OC") ? std::atoll(getenv("E2M_OC")) : 512;
  const int64_t ic = getenv("E2M_IC") ? std::atoll(getenv("E2M_IC")) : 256;
  Layer l = synthetic_layer(oc, ic, 17);
  E2mAtqConfig cfg;
  auto t0 = std::chrono::steady_clock::now();
  E2mAtqOutput o = e2m_atq_quantize(l.W, l.H, l.S, cfg);
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("e2m %lldx%lld, %d threads: %.2f s, %.3f s per 128-column block\n", (long long)oc,
              (long long)ic, at::get_num_threads(), s, s / ((ic + 127) / 128));
}

TEST_CASE("e2m-atq plugin: thin shell over e2m_atq_quantize", "[e2m]") {
  auto q = quantizers().make(PluginSpec{"e2m-atq", YAML::Load("{stage2: false}")}, "quantizer");
  CHECK(q->needs_calibration());
  CHECK(q->nominal_bits() == "1.58");
  Layer l = synthetic_layer(16, 256, 41);
  LayerStats s;
  s.H = l.H;
  s.S_blocks = l.S;
  QuantResult r = q->quantize(LinearRef{"layers.0.self_attn.q_proj", 0, l.W}, &s);
  E2mAtqConfig cfg;
  cfg.stage2 = false;
  CHECK(at::equal(r.dequant, e2m_atq_quantize(l.W, l.H, l.S, cfg).Q));
  CHECK(r.packed.format == "e2m");
  s.S_blocks.clear();
  CHECK_THROWS_WITH(q->quantize(LinearRef{"layers.0.self_attn.q_proj", 0, l.W}, &s),
                    Catch::Matchers::Contains("S_blocks"));
  CHECK_THROWS_WITH(quantizers().make(PluginSpec{"e2m-atq", YAML::Load("{blocksize: 0}")}, "quantizer"),
                    Catch::Matchers::Contains("quantizer.blocksize=0"));
  CHECK_THROWS_WITH(quantizers().make(PluginSpec{"e2m-atq", YAML::Load("{stage_2: false}")}, "quantizer"),
                    Catch::Matchers::Contains("stage2"));
}
