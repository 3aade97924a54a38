// tests/quantizers/test_registry.cpp: conformance of every row of quantizers(), and the errors a
// user gets for a bad quantizer config.
#include <ATen/CPUGeneratorImpl.h>

#include <cmath>

#include "quantizers/quantizer.h"
#include "tests/catch.h"

using namespace twla;

namespace {
Tensor randn(at::IntArrayRef shape, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return at::randn(shape, gen, at::TensorOptions().dtype(at::kFloat));
}
// Calibration statistics for quantizers that need them: 4 sequences of 128 tokens.
LayerStats random_stats(int64_t ic, uint64_t seed) {
  const int64_t n_seq = 4, seqlen = 128;
  Tensor X = randn({n_seq, seqlen, ic}, seed);
  LayerStats s;
  s.n_seq = n_seq;
  s.n_tokens = n_seq * seqlen;
  Tensor flat = X.reshape({-1, ic});
  s.H = flat.t().matmul(flat) * (2.0 / n_seq);
  for (int64_t c = 0; c < ic; c += 128) {
    Tensor Xb = X.narrow(2, c, std::min<int64_t>(128, ic - c));
    s.S_blocks.push_back(Xb.transpose(1, 2).matmul(Xb).mean(0));
  }
  return s;
}
QuantResult run(const Quantizer& q, const Tensor& W, const std::string& name) {
  LayerStats stats = random_stats(W.size(1), 1);
  return q.quantize(LinearRef{name, 0, W}, q.needs_calibration() ? &stats : nullptr);
}
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "<no error>";
}
bool has(const std::string& m, const std::string& part) { return m.find(part) != std::string::npos; }
}  // namespace

TEST_CASE("every quantizer keeps the shape, maps zeros to zeros and packs what it dequantizes") {
  auto name = GENERATE(from_range(quantizers().names()));
  CAPTURE(name);
  auto q = quantizers().make(name);  // defaults
  CHECK(q->name() == name);
  CHECK(!q->nominal_bits().empty());
  Tensor W = randn({64, 256}, 0);  // [oc, ic]
  QuantResult r = run(*q, W, "layers.0.mlp.up_proj");
  CHECK(r.dequant.sizes() == W.sizes());
  CHECK(r.dequant.scalar_type() == at::kFloat);
  CHECK(r.packed.shape == W.sizes().vec());
  CHECK(r.report.bits_per_weight > 0);
  CHECK(r.packed.bits_per_weight == r.report.bits_per_weight);
  CHECK(std::isfinite(r.report.weight_err));
  CHECK(r.report.weight_err < 1.0);
  CHECK(max_abs_diff(dequantize(r.packed), r.dequant) == 0);

  QuantResult z = run(*q, at::zeros_like(W), "layers.0.mlp.up_proj");
  CHECK(max_abs(z.dequant) == 0);
  CHECK(max_abs(dequantize(z.packed)) == 0);
  CHECK(std::isfinite(z.report.weight_err));
}

TEST_CASE("data-free quantizers with groups: packed == dequant, honest bits") {
  struct Case {
    const char* name;
    const char* params;
    double bits;
  };
  const Case cases[] = {
      {"rtn", "{bits: 4, group_size: 128}", 4 + (16 + 4) / 128.0},
      {"rtn", "{bits: 3, group_size: 64, rule: twla}", 3 + (16 + 16) / 64.0},
      {"rtn", "{bits: 4, symmetric: true}", 4 + 16 / 256.0},
      {"rtn", "{bits: 3, group_size: 128, rule: twla, mse: 2.0}", 3 + 32 / 128.0},
      {"rtn", "{bits: 2, rule: gptq, mse: 2.4}", 2 + 18 / 256.0},
      {"ternary-absmean", "{group_size: 128}", 2 + 16 / 128.0},
      {"ternary-threshold", "{group_size: 64}", 2 + 32 / 64.0},
      {"ternary-threshold", "{}", 2 + 32 / 256.0},
  };
  Tensor W = randn({32, 256}, 5);
  for (const Case& c : cases) {
    CAPTURE(c.name, c.params);
    auto q = quantizers().make(PluginSpec{c.name, YAML::Load(c.params)}, "quantizer");
    CHECK(!q->needs_calibration());
    QuantResult r = run(*q, W, "layers.1.self_attn.q_proj");
    CHECK(at::equal(dequantize(r.packed), r.dequant));
    CHECK(r.report.bits_per_weight == Approx(c.bits));
    CHECK(r.report.weight_err > 0);
    CHECK(r.report.weight_err < 1);
  }
  CHECK(quantizers().make("rtn")->nominal_bits() == "4");
  CHECK(quantizers().make("ternary-absmean")->nominal_bits() == "1.58");
  CHECK(quantizers().make("fp")->nominal_bits() == "16");
}

TEST_CASE("bad quantizer configs are user errors that name the field and a fix") {
  auto make = [](const char* name, const char* params) {
    return [=] { quantizers().make(PluginSpec{name, YAML::Load(params)}, "quantizer"); };
  };
  std::string m = error_of(make("rtn", "{bitz: 4}"));
  CHECK(has(m, "quantizer.bitz"));
  CHECK(has(m, "did you mean 'bits'"));

  m = error_of(make("rtn", "{bits: 9}"));
  CHECK(has(m, "quantizer.bits=9"));
  CHECK(has(m, "2..8"));
  CHECK(has(error_of(make("rtn", "{bits: 1}")), "quantizer.bits=1"));

  m = error_of(make("rtn", "{rule: gtpq}"));
  CHECK(has(m, "quantizer.rule"));
  CHECK(has(m, "did you mean 'gptq'"));

  CHECK(has(error_of(make("rtn", "{group_size: 0}")), "quantizer.group_size=0"));
  CHECK(has(error_of(make("ternary-absmean", "{group_size: -3}")), "quantizer.group_size=-3"));
  CHECK(has(error_of(make("ternary-threshold", "{bits: 2}")), "quantizer.bits"));

  CHECK(has(error_of([] { quantizers().make("rnt"); }), "did you mean 'rtn'"));

  // group_size is checked against the layer when it is quantized, naming the layer
  for (const char* name : {"rtn", "ternary-absmean", "ternary-threshold"}) {
    CAPTURE(name);
    auto q = quantizers().make(PluginSpec{name, YAML::Load("{group_size: 100}")}, "quantizer");
    m = error_of([&] { run(*q, randn({8, 256}, 2), "layers.3.mlp.down_proj"); });
    CHECK(has(m, "quantizer.group_size=100"));
    CHECK(has(m, "ic=256"));
    CHECK(has(m, "layers.3.mlp.down_proj"));
    CHECK(has(m, "-1 (per row)"));
  }
}
