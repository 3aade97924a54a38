// tests/experiments/test_kernel_backend.cpp: `backend: kernel` runs the ternary linears of
// stories260K on the packed tq2 kernels and agrees with the fake-quant path: logits to fp32
// rounding with 16-bit activations, perplexity within 0.5% with 4-bit activations (there a
// rounding difference can move an activation across a grid step), and every linear of a
// ternary-absmean model really ran on the kernels.
#include <cmath>
#include <filesystem>

#include "core/model.h"
#include "core/paths.h"
#include "experiments/kernel_ops.h"
#include "experiments/pipeline.h"
#include "quantizers/quantizer.h"
#include "results/run_file.h"
#include "tests/catch.h"

namespace fs = std::filesystem;
using namespace twla;

namespace {
std::string stories() { return data_dir() + "/models/stories260K"; }

// Every linear of stories260K quantized data-free with ternary-absmean.
void quantize_all(Model& m) {
  auto q = quantizers().make(PluginSpec{"ternary-absmean", YAML::Node(YAML::NodeType::Map)}, "quantizer");
  for (int b = 0; b < m.n_blocks(); ++b) {
    Block blk = m.load_block(b);
    for (const auto& name : block_linear_names(b)) {
      QuantResult r = q->quantize(LinearRef{name, b, blk.W.at(name)}, nullptr);
      m.set_weight(name, std::make_shared<PackedWeight>(std::move(r.packed)));
    }
  }
}
}  // namespace

TEST_CASE("kernel backend: logits equal the fake-quant path (16-bit and 4-bit activations)") {
  Model m(stories());
  quantize_all(m);
  Tensor ids = at::randint(1, 512, {2, 48}, at::kLong);
  for (int bits : {16, 4}) {
    CAPTURE(bits);
    Allocation a;
    a.act_bits.assign(size_t(m.n_blocks()), bits);
    QuantLinearOps fake(nullptr, a, 0.9, false);
    KernelLinearOps kern(m, nullptr, a, 0.9, false, 1);
    CHECK(kern.fallback_linears().empty());
    CHECK(int(kern.kernel_linears().size()) == 7 * m.n_blocks());
    Tensor lf = m.forward(ids, &fake), lk = m.forward(ids, &kern);
    const double scale = lf.abs().max().item<double>();
    const double diff = (lf - lk).abs().max().item<double>();
    if (bits == 16) CHECK(diff < 1e-4 * scale);
    // 4-bit: the same grid; a last-bit difference can flip one code, so compare the bulk.
    CHECK((lf - lk).abs().mean().item<double>() < 1e-3 * scale);
  }
}

TEST_CASE("kernel backend: a W1.58A4 run's perplexity is within 0.5% of fake-quant") {
  auto out = fs::temp_directory_path() / ("twla-kernel-" + std::to_string(::getpid()));
  fs::remove_all(out);
  double ppl[2];
  int i = 0;
  for (const char* backend : {"fake", "kernel"}) {
    YAML::Node t = YAML::Load(
        "{quantizer: ternary-absmean, activations: {bits: 4}, threads: 1,"
        " eval: {tasks: [tinystories], seqlen: 128, max_windows: 24, batch: 8, kl: false}}");
    t["name"] = backend;
    t["backend"] = backend;
    t["model"]["path"] = stories();
    t["output"] = out.string();
    RunOptions o;
    o.quiet = true;
    RunRecord r = run_experiment(t, o);
    ppl[i++] = r.metrics.at("ppl/tinystories");
    if (std::string(backend) == "kernel") CHECK(r.labels.at("backend") == "kernel: 35 tq2, 0 dequantized");
  }
  CHECK(std::isfinite(ppl[0]));
  CHECK(std::abs(ppl[1] - ppl[0]) < 0.005 * ppl[0]);
  fs::remove_all(out);
}
