// tests/quantizers/test_bad_inputs.cpp: what a user gets from each quantizer plugin (the calls
// the calibration pipeline makes, with the layer's name) for bad inputs: NaN/Inf weights,
// NaN/Inf calibration activations, H not positive definite after damping, and in_features that
// are not a multiple of the block size (handled, not an error). docs/COMPAT.md "Bad inputs".
#include <ATen/CPUGeneratorImpl.h>

#include <limits>

#include "quantizers/hessian.h"
#include "quantizers/quantizer.h"
#include "tests/catch.h"

using namespace twla;

namespace {
const char* kLayer = "layers.3.mlp.down_proj";
Tensor randn(at::IntArrayRef shape, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return at::randn(shape, gen, at::TensorOptions().dtype(at::kFloat));
}
// Statistics as the pipeline collects them: one add_batch / S update per sequence.
LayerStats stats_from(const Tensor& X) {   // X [n_seq, T, ic]
  HessianAccumulator h;
  SBlockAccumulator s;
  for (int64_t j = 0; j < X.size(0); ++j) {
    hessian_add_batch(h, X[j]);
    s_blocks_add(s, X[j]);
  }
  LayerStats st;
  st.H = h.H;
  st.n_seq = h.n_seq;
  st.n_tokens = h.n_tokens;
  st.S_blocks = s_blocks_finish(s);
  return st;
}
std::string error_of(const Quantizer& q, const Tensor& W, const LayerStats* st) {
  try {
    q.quantize(LinearRef{kLayer, 3, W}, q.needs_calibration() ? st : nullptr);
  } catch (const Error& e) {
    return e.what();
  }
  return "<no error>";
}
bool has(const std::string& m, const std::string& part) { return m.find(part) != std::string::npos; }
std::unique_ptr<Quantizer> make(const std::string& name, const char* yaml = "{}") {
  return quantizers().make(PluginSpec{name, YAML::Load(yaml)}, "quantizer");
}
}  // namespace

TEST_CASE("bad inputs: NaN/Inf weights are an error naming the layer, in every quantizer", "[bad]") {
  LayerStats st = stats_from(randn({4, 64, 256}, 1));
  for (const auto& name : quantizers().names()) {
    if (name == "fp") continue;   // full precision passes weights through untouched
    CAPTURE(name);
    auto q = make(name);
    for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
      Tensor W = randn({16, 256}, 2) * 0.02;
      W[5][77] = bad;
      std::string m = error_of(*q, W, &st);
      CAPTURE(m);
      CHECK(has(m, kLayer));
      CHECK(has(m, "weight"));
      CHECK(has(m, "NaN or Inf"));
    }
  }
}

TEST_CASE("bad inputs: NaN/Inf calibration activations are an error naming the layer", "[bad]") {
  Tensor W = randn({16, 256}, 3) * 0.02;
  for (const char* name : {"gptq", "e2m-atq"}) {
    CAPTURE(name);
    auto q = make(name);
    for (float bad : {std::numeric_limits<float>::quiet_NaN(), -std::numeric_limits<float>::infinity()}) {
      Tensor X = randn({4, 64, 256}, 4);
      X[2][10][100] = bad;
      LayerStats st = stats_from(X);
      std::string m = error_of(*q, W, &st);
      CAPTURE(m);
      CHECK(has(m, kLayer));
      CHECK(has(m, "calibration"));
      CHECK(has(m, "NaN or Inf"));
    }
  }
}

TEST_CASE("bad inputs: H not positive definite after damping is an error suggesting percdamp", "[bad]") {
  Tensor W = randn({16, 256}, 5) * 0.02;
  LayerStats st = stats_from(randn({4, 64, 256}, 6));
  // An indefinite H (a calibration set cannot produce one, a corrupted statistic can) and a
  // singular one with percdamp 0: the reference raises in its Cholesky; so does twla, naming the
  // layer and the fix instead of a LAPACK code.
  LayerStats indefinite = st;
  indefinite.H = st.H.clone();
  indefinite.H[7][7] = -1000.0;
  LayerStats singular = stats_from(at::zeros({4, 64, 256}));
  singular.H.diagonal().narrow(0, 0, 2).fill_(1.0);   // two live columns, 254 exactly dependent
  singular.H[0][1] = singular.H[1][0] = 1.0;
  for (const char* name : {"gptq", "e2m-atq"}) {
    CAPTURE(name);
    for (auto* s : {&indefinite, &singular}) {
      auto q = make(name, s == &singular ? "{percdamp: 0}" : "{}");
      std::string m = error_of(*q, W, s);
      CAPTURE(m);
      CHECK(has(m, kLayer));
      CHECK(has(m, "not positive definite"));
      CHECK(has(m, "percdamp"));
    }
  }
}

TEST_CASE("bad inputs: in_features not a multiple of the block size run, partial last block",
          "[bad]") {
  // 200 = 128 + 72 and 160 = 128 + 32 (narrower than the salient search's 64: capped by default).
  for (int64_t ic : {200, 160}) {
    CAPTURE(ic);
    Tensor W = randn({24, ic}, 7) * 0.02;
    LayerStats st = stats_from(randn({4, 64, ic}, 8));
    for (const char* name : {"gptq", "e2m-atq"}) {
      CAPTURE(name);
      auto q = make(name, std::string(name) == "gptq" ? "{group_size: 128}" : "{}");
      QuantResult r = q->quantize(LinearRef{kLayer, 3, W}, &st);
      REQUIRE(r.dequant.sizes() == W.sizes());
      CHECK(at::isfinite(r.dequant).all().item<bool>());
      // The last partial block is quantized too (not left at W, not zeroed).
      Tensor tail = r.dequant.narrow(1, 128, ic - 128);
      CHECK(!at::equal(tail, W.narrow(1, 128, ic - 128)));
      CHECK(tail.abs().sum().item<double>() > 0);
    }
    auto strict = make("e2m-atq", "{compat_reference: true}");
    std::string m = error_of(*strict, W, &st);
    if (ic == 160) CHECK(has(m, "narrower than the salient search limit"));
    else CHECK(m == "<no error>");
  }
}
