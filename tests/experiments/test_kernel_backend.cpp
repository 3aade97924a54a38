// tests/experiments/test_kernel_backend.cpp: `backend: kernel` runs the ternary linears of
// stories260K on the packed tq2 kernels and agrees with the fake-quant path: logits to fp32
// rounding with 16-bit activations, each linear's outputs to fp32 rounding with 4-bit ones, and
// perplexity within 0.5% with 4-bit activations (end to end a rounding difference can move an
// activation across a grid step), and every linear of a ternary-absmean model really ran on
// the kernels; the perplexity check also for E2M-ATQ (calibrated on 8 C4 sequences) on e2m. The same for E2M-ATQ's "e2m" linears on the
// e2m kernels (calibrated on random inputs: the test is the kernel, not the calibration), whose
// kernel buffers hold the quantizer's weights bit for bit and convert back to its parts
// (e2m_from_kernel, what a packed model loads), and for GPTQ-ternary's.
// `backend: kernel-cuda` (the same packed weights on the CUDA kernels): where a GPU is usable, the
// same checks (16-bit logits to 1e-2 of the largest: the activations go through fp16 once); where
// none is (this CI machine), a run asking for it fails with device_status()'s reason.
#include <cmath>
#include <filesystem>
#include <vector>

#include "core/error.h"
#include "core/model.h"
#include "core/paths.h"
#include "experiments/kernel_ops.h"
#include "experiments/pipeline.h"
#include "kernels/e2m.h"
#include "quantizers/e2m_atq.h"
#include "quantizers/e2m_convert.h"
#include "quantizers/gptq.h"
#include "quantizers/act_quant.h"
#include "quantizers/hessian.h"
#include "quantizers/quantizer.h"
#include "results/run_file.h"
#include "tests/catch.h"
#include "tests/experiments/quantize_all.h"

namespace fs = std::filesystem;
using namespace twla;

namespace {
std::string stories() { return data_dir() + "/models/stories260K"; }

using twla::test::quantize_all_absmean;

// H = (2/N) X^T X and the S blocks of random calibration inputs for a linear of width ic.
struct Calib {
  Tensor H;
  std::vector<Tensor> S;
};
Calib random_calib(int64_t ic, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  std::vector<Tensor> seqs;
  for (int i = 0; i < 4; ++i) seqs.push_back(at::randn({32, ic}, gen, at::TensorOptions().dtype(at::kFloat)));
  Tensor X = at::cat(seqs, 0);
  return {X.t().matmul(X) * (2.0 / double(X.size(0))), s_blocks_from_sequences(seqs, 128)};
}

// Whether fn throws a twla::Error whose message contains `what` (Catch2 v2 and v3 alike).
template <class Fn>
bool throws_with(Fn fn, const std::string& what) {
  try {
    fn();
  } catch (const Error& e) {
    return std::string(e.what()).find(what) != std::string::npos;
  }
  return false;
}

bool bitwise_equal(const Tensor& a, const Tensor& b) {
  return a.sizes() == b.sizes() && at::equal(a.contiguous().view(at::kInt), b.contiguous().view(at::kInt));
}

// e2m_from_kernel undoes e2m_to_kernel: the same weights bit for bit, the same parts where the
// buffer holds them (not the non-salient groups' alpha1, which multiply t1 = 0).
void check_round_trip(const PackedWeight& p, const kernels::E2mBuffer& buf) {
  const int64_t G = p.attrs.at("groups"), nA = G == 1 ? 1 : G - 2;
  PackedWeight r = e2m_from_kernel(buf.bytes.data(), buf.bytes.size(), G, p.attrs.at("block_size"));
  CHECK(r.format == "e2m");
  CHECK(r.shape == p.shape);
  CHECK(r.attrs == p.attrs);
  CHECK(bitwise_equal(dequantize(r), dequantize(p)));
  for (const char* k : {"group", "t0", "t1", "mu", "alpha0"}) {
    CAPTURE(k);
    CHECK(r.parts.at(k).scalar_type() == p.parts.at(k).scalar_type());
    CHECK(at::equal(r.parts.at(k), p.parts.at(k)));
  }
  CHECK(at::equal(r.parts.at("alpha1").narrow(2, 0, nA), p.parts.at("alpha1").narrow(2, 0, nA)));
  CHECK(e2m_to_kernel(r).bytes == buf.bytes);   // the packed model's buffer is the in-process one
}

// The kernel buffer's weights equal dequantize(p) bit for bit, and it converts back (above).
bool kernel_weights_exact(const PackedWeight& p) {
  kernels::E2mBuffer buf = e2m_to_kernel(p);
  kernels::E2mView v = buf.view();
  Tensor Wk = at::empty({v.oc, v.ic}, at::kFloat);
  kernels::e2m_dequantize(v, Wk.data_ptr<float>());
  check_round_trip(p, buf);
  return bitwise_equal(Wk, dequantize(p));
}

// Every linear of stories260K quantized with E2M-ATQ (default config) on random calibration.
void quantize_all_e2m(Model& m) {
  E2mAtqConfig cfg;
  for (int b = 0; b < m.n_blocks(); ++b) {
    Block blk = m.load_block(b);
    for (const auto& name : block_linear_names(b)) {
      const Tensor& W = blk.W.at(name);
      Calib c = random_calib(W.size(1), uint64_t(b * 16 + name.size()));
      E2mAtqOutput o = e2m_atq_quantize(W, c.H, c.S, cfg, name);
      CHECK(kernel_weights_exact(o.packed));
      if (b == 0) {   // read back with fewer groups than it was packed with: an error, not other weights
        const auto buf = e2m_to_kernel(o.packed);
        CHECK(throws_with([&] { e2m_from_kernel(buf.bytes.data(), buf.bytes.size(), 1, o.packed.attrs.at("block_size")); },
                          "non-salient columns"));
      }
      m.set_weight(name, std::make_shared<PackedWeight>(std::move(o.packed)));
    }
  }
}

// Kernel vs fake-quant on model m, every linear quantized with format `fmt`. 16-bit activations:
// the whole forward's logits to 1e-4 of the largest (fp32 rounding only). 4-bit: per linear on
// the same random inputs (same codes; only fp32 rounding differs), to 1e-5 of each output's
// sum_k |x_hat w| -- end to end a last-bit difference can flip a 4-bit code downstream, which
// the perplexity test below covers.
bool cuda_usable() { return kernels::cuda::device_status().empty(); }

void check_against_fake(const Model& m, int threads, const std::string& fmt, KernelDevice dev = KernelDevice::kCpu) {
  const bool cuda = dev == KernelDevice::kCuda;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(11);
  Tensor ids = at::randint(1, 512, {2, 48}, gen, at::TensorOptions().dtype(at::kLong));
  for (int bits : {16, 4}) {
    CAPTURE(bits);
    Allocation a;
    a.act_bits.assign(size_t(m.n_blocks()), bits);
    QuantLinearOps fake(nullptr, a, 0.9, false);
    KernelLinearOps kern(m, nullptr, a, 0.9, false, threads, dev);
    CHECK(kern.fallback_linears().empty());
    CHECK(int(kern.kernel_linears().size()) == 7 * m.n_blocks());
    CHECK(kern.summary() == std::to_string(7 * m.n_blocks()) + " " + fmt + (cuda ? " (cuda)" : "") + ", 0 dequantized");
    if (bits == 16) {
      Tensor lf = m.forward(ids, &fake), lk = m.forward(ids, &kern);
      CHECK((lf - lk).abs().max().item<double>() < (cuda ? 1e-2 : 1e-4) * lf.abs().max().item<double>());
      continue;
    }
    for (const auto& name : kern.kernel_linears()) {
      CAPTURE(name);
      Tensor W = dequantize(*m.override_of(name));
      Tensor x = at::randn({96, W.size(1)}, gen, at::TensorOptions().dtype(at::kFloat));
      Tensor yf = fake.linear(name, x, W), yk = kern.linear(name, x, W);
      Tensor cond = act_fake_quant(x, fake.act_spec(name)).abs().matmul(W.abs().t());
      CHECK(((yf - yk).abs() / cond).max().item<double>() < 1e-5);
    }
  }
}
}  // namespace

TEST_CASE("kernel backend: E2M-ATQ linears run on the e2m kernels and match fake-quant") {
  Model m(stories());
  quantize_all_e2m(m);
  check_against_fake(m, 2, "e2m");
  if (cuda_usable()) check_against_fake(m, 2, "e2m", KernelDevice::kCuda);
}

TEST_CASE("kernel backend: GPTQ-ternary's {min, 0, max} grid runs on the e2m kernels exactly") {
  Model m(stories());
  Block blk = m.load_block(0);
  for (int64_t gs : {-1, 128}) {
    CAPTURE(gs);
    const Tensor& W = blk.W.at("layers.0.mlp.down_proj");  // ic = hidden: a ragged last block
    Calib c = random_calib(W.size(1), 3);
    GptqConfig cfg;
    cfg.ternary = true;
    cfg.group_size = gs;
    PackedWeight p = gptq_pack(gptq_quantize(W, c.H, cfg), cfg);
    REQUIRE(p.format == "e2m");
    CHECK(kernel_weights_exact(p));
    // Read back with other attrs than it was packed with: a clear error, not other weights.
    const auto buf = e2m_to_kernel(p);
    auto from = [&](int64_t groups, int64_t bs) { e2m_from_kernel(buf.bytes.data(), buf.bytes.size(), groups, bs); };
    if (gs == 128) CHECK(throws_with([&] { from(1, W.size(1)); }, "different params"));
    CHECK(throws_with([&] { from(1, 64); }, "block_size=64"));
  }
}

TEST_CASE("kernel backend: logits equal the fake-quant path (16-bit and 4-bit activations)") {
  Model m(stories());
  quantize_all_absmean(m);
  check_against_fake(m, 1, "tq2");
  if (cuda_usable()) check_against_fake(m, 1, "tq2", KernelDevice::kCuda);
}

TEST_CASE("kernel backend: kernel-cuda without a usable GPU is an error naming why") {
  if (cuda_usable()) return;   // the GPU case is checked by the cases around this one
  Model m(stories());
  quantize_all_absmean(m);
  Allocation a;
  a.act_bits.assign(size_t(m.n_blocks()), 4);
  CHECK(throws_with([&] { KernelLinearOps(m, nullptr, a, 0.9, false, 1, KernelDevice::kCuda); },
                    "backend kernel-cuda: " + kernels::cuda::device_status()));
}

// WikiText-2, as the issue states it. Enough tokens that it measures the backends, not chance: a
// 4-bit code on a rounding boundary can flip between the two (exact integer vs fp32 sums), and
// on 24 windows of 128 such flips moved E2M-ATQ's perplexity by 0.75%; on 160-200 windows the two
// agree to ~0.05-0.15%.
TEST_CASE("kernel backend: a W1.58A4 run's perplexity is within 0.5% of fake-quant") {
  struct Case {
    const char *quantizer, *format;
  };
  for (Case c : {Case{"ternary-absmean", "tq2"}, Case{"e2m-atq", "e2m"}}) {
    CAPTURE(c.quantizer);
    auto out = fs::temp_directory_path() / ("twla-kernel-" + std::to_string(::getpid()));
    fs::remove_all(out);
    double ppl[3];
    int i = 0;
    std::vector<const char*> backends{"fake", "kernel"};
    if (cuda_usable()) backends.push_back("kernel-cuda");
    for (const char* backend : backends) {
      YAML::Node t = YAML::Load(
          "{activations: {bits: 4}, threads: 1,"
          " calibration: {dataset: c4, nsamples: 8, seqlen: 128, seed: 0},"
          " eval: {tasks: [wikitext2], seqlen: 128, max_windows: 160, batch: 8, kl: false}}");
      t["quantizer"] = c.quantizer;
      t["name"] = backend;
      t["backend"] = backend;
      t["model"]["path"] = stories();
      t["output"] = out.string();
      RunOptions o;
      o.quiet = true;
      RunRecord r = run_experiment(t, o);
      ppl[i++] = r.metrics.at("ppl/wikitext2");
      if (std::string(backend) != "fake")
        CHECK(r.labels.at("backend") == std::string(backend) + ": 35 " + c.format +
                                            (std::string(backend) == "kernel-cuda" ? " (cuda)" : "") + ", 0 dequantized");
    }
    CHECK(std::isfinite(ppl[0]));
    for (int k = 1; k < i; ++k) {
      CAPTURE(backends[k]);
      CHECK(std::abs(ppl[k] - ppl[0]) < 0.005 * ppl[0]);
    }
    fs::remove_all(out);
  }
}
