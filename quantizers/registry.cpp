// quantizers/registry.cpp: the one table of weight quantizers, and the thin shells of the
// data-free ones (fp, rtn, ternary-*). Shells only validate their Config and call the free
// functions of rtn.h / ternary.h; calibration-based quantizers add their rows here too.
#include <chrono>

#include "quantizers/e2m_atq.h"
#include "quantizers/gptq.h"
#include "quantizers/hessian.h"
#include "quantizers/quantizer.h"
#include "quantizers/rtn.h"
#include "quantizers/ternary.h"

namespace twla {

namespace {
struct FpConfig {
  template <class V> void visit(V&) {}
};
void validate(const FpConfig&, const std::string&) {}

class FpQuantizer : public PluginShell<Quantizer, FpConfig> {
 public:
  using PluginShell::PluginShell;
  bool needs_calibration() const override { return false; }
  std::string nominal_bits() const override { return "16"; }
  QuantResult quantize(const LinearRef& l, const LayerStats*) const override {
    QuantResult r;
    r.dequant = l.W;
    r.packed.format = "dense";
    r.packed.shape = l.W.sizes().vec();
    r.packed.parts["W"] = l.W;
    r.packed.bits_per_weight = 32;
    r.report.bits_per_weight = 32;
    return r;
  }
};

// Checks the layer against group_size here, so the error names the layer.
int64_t layer_group_size(const LinearRef& l, int group_size) {
  TWLA_CHECK(l.W.dim() == 2, "layer ", l.name, ": weight must be [oc, ic], got ", describe(l.W));
  check_finite(l.W, "weight", l.name);
  const int64_t ic = l.W.size(1);
  TWLA_CHECK(group_size == -1 || ic % group_size == 0, "quantizer.group_size=", group_size,
             " does not divide ic=", ic, " of ", l.name, "; use a divisor or -1 (per row)");
  return group_size;
}

void check_group_size(int group_size, const std::string& path) {
  TWLA_CHECK(group_size == -1 || group_size > 0, path, ".group_size=", group_size,
             " is not a group size; use a positive divisor of the layer's ic or -1 (per row)");
}

QuantResult make_result(const Tensor& W, Tensor dequant, PackedWeight packed,
                        std::chrono::steady_clock::time_point t0) {
  QuantResult r;
  r.report.weight_err = relative_error(W, dequant);
  r.report.bits_per_weight = packed.bits_per_weight;
  r.report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.dequant = std::move(dequant);
  r.packed = std::move(packed);
  return r;
}
QuantResult result_of(const Tensor& W, UniformQuant q, std::chrono::steady_clock::time_point t0) {
  PackedWeight p = pack_uniform(q);
  return make_result(W, q.dequant, std::move(p), t0);
}
QuantResult result_of(const Tensor& W, TernaryQuant q, std::chrono::steady_clock::time_point t0) {
  PackedWeight p = pack_ternary(q);
  return make_result(W, q.dequant, std::move(p), t0);
}

struct RtnConfig {
  int bits = 4;
  bool symmetric = false;
  int group_size = -1;
  std::string rule = "gptq";
  double mse = 0;
  template <class V> void visit(V& v) {
    v("bits", bits, "weight bits, 2..8");
    v("symmetric", symmetric, "symmetric grid (no zero point) instead of asymmetric min/max");
    v("group_size", group_size, "columns per scale/zero; -1 = whole row");
    v("rule", rule, "grid rule: gptq (range includes 0, IST-DASLab) or twla (plain min/max, "
                    "scale clamped, TWLA's UniformAffineQuantizer)");
    v("mse", mse, "0 = min/max grid; > 0 = search a shrunk range minimizing |err|^mse "
                  "(GPTQ uses 2.4, the TWLA golden 2.0)");
  }
};
void validate(const RtnConfig& c, const std::string& path) {
  TWLA_CHECK(c.bits >= 2 && c.bits <= 8, path, ".bits=", c.bits,
             " is outside 2..8; use 2..8, or ternary-absmean / ternary-threshold for 1.58 bits");
  check_group_size(c.group_size, path);
  parse_rtn_rule(c.rule, path + ".rule");
  TWLA_CHECK(c.mse >= 0, path, ".mse=", c.mse, " must be >= 0 (0 = min/max grid)");
}

class RtnQuantizer : public PluginShell<Quantizer, RtnConfig> {
 public:
  using PluginShell::PluginShell;
  bool needs_calibration() const override { return false; }
  std::string nominal_bits() const override { return std::to_string(cfg_.bits); }
  QuantResult quantize(const LinearRef& l, const LayerStats*) const override {
    auto t0 = std::chrono::steady_clock::now();
    RtnSpec s;
    s.bits = cfg_.bits;
    s.symmetric = cfg_.symmetric;
    s.group_size = layer_group_size(l, cfg_.group_size);
    s.rule = parse_rtn_rule(cfg_.rule, "quantizer.rule");
    s.mse_norm = cfg_.mse;
    return result_of(l.W, rtn_uniform(l.W, s), t0);
  }
};

struct TernaryConfig {
  int group_size = -1;
  template <class V> void visit(V& v) {
    v("group_size", group_size, "columns per alpha (and mu); -1 = whole row");
  }
};
void validate(const TernaryConfig& c, const std::string& path) { check_group_size(c.group_size, path); }

using TernaryFn = TernaryQuant (*)(const Tensor&, int64_t);
template <TernaryFn Fn>
class TernaryQuantizer : public PluginShell<Quantizer, TernaryConfig> {
 public:
  using PluginShell::PluginShell;
  bool needs_calibration() const override { return false; }
  std::string nominal_bits() const override { return "1.58"; }
  QuantResult quantize(const LinearRef& l, const LayerStats*) const override {
    auto t0 = std::chrono::steady_clock::now();
    return result_of(l.W, Fn(l.W, layer_group_size(l, cfg_.group_size)), t0);
  }
};

// Calibration-based shells (gptq.h, e2m_atq.h): stats->H, and S_blocks for E2M-ATQ.
const LayerStats& need_stats(const LayerStats* s, const LinearRef& l, const char* who, bool S) {
  TWLA_CHECK(s && s->H.defined(), "quantizer ", who, " needs calibration statistics (H) for layer ",
             l.name, "; run it through the calibration pipeline");
  TWLA_CHECK(!S || !s->S_blocks.empty(), "quantizer ", who, " needs the per-block S statistics of "
             "layer ", l.name, "; collect S_blocks during calibration");
  // NaN/Inf in the layer's calibration inputs reach H (and S) first: say so, before the
  // quantizer's own checks report a non-finite H.
  check_finite(s->H, "the calibration statistic H (from the layer's input activations)", l.name);
  for (size_t b = 0; S && b < s->S_blocks.size(); ++b)
    check_finite(s->S_blocks[b], str("the calibration statistic S block ", b), l.name);
  return *s;
}
// tr(E H E^T), E = W_hat - W: the layer's output error on the calibration set (up to 2/N).
double output_error(const Tensor& W, const Tensor& W_hat, const Tensor& H) {
  Tensor E = W_hat - W.to(at::kFloat);
  return (at::matmul(E, H) * E).sum().item<double>();
}

class GptqQuantizer : public PluginShell<Quantizer, GptqConfig> {
 public:
  using PluginShell::PluginShell;
  bool needs_calibration() const override { return true; }
  std::string nominal_bits() const override {
    return cfg_.ternary ? "1.58" : std::to_string(cfg_.bits);
  }
  QuantResult quantize(const LinearRef& l, const LayerStats* stats) const override {
    auto t0 = std::chrono::steady_clock::now();
    const LayerStats& s = need_stats(stats, l, "gptq", false);
    GptqOutput o = gptq_quantize(l.W, s.H, cfg_, l.name);
    QuantResult r = make_result(l.W, o.Q, gptq_pack(o, cfg_), t0);
    r.report.output_err = output_error(l.W, r.dequant, s.H);
    r.report.extra["gptq_loss"] = o.error;
    r.report.extra["damp"] = o.damp;
    r.report.extra["dead_columns"] = static_cast<double>(o.dead.size());
    return r;
  }
};

class E2mAtqQuantizer : public PluginShell<Quantizer, E2mAtqConfig> {
 public:
  using PluginShell::PluginShell;
  bool needs_calibration() const override { return true; }
  std::string nominal_bits() const override { return "1.58"; }
  QuantResult quantize(const LinearRef& l, const LayerStats* stats) const override {
    auto t0 = std::chrono::steady_clock::now();
    const LayerStats& s = need_stats(stats, l, "e2m-atq", true);
    E2mAtqOutput o = e2m_atq_quantize(l.W, s.H, s.S_blocks, cfg_, l.name);
    QuantResult r = make_result(l.W, o.Q, std::move(o.packed), t0);
    r.report.output_err = output_error(l.W, r.dequant, s.H);
    r.report.extra["gptq_loss"] = o.error;
    r.report.extra["damp"] = o.damp;
    r.report.extra["dead_columns"] = static_cast<double>(o.dead.size());
    return r;
  }
};

// plugin_entry plus the Config's validate(), so range errors surface at make() and name the field.
template <class Impl>
Registry<Quantizer>::Entry checked_entry(const std::string& name, const std::string& help) {
  auto e = plugin_entry<Quantizer, Impl>(name, help);
  e.make = [name](const YAML::Node& params, const std::string& path) -> std::unique_ptr<Quantizer> {
    typename Impl::ConfigType cfg;
    parse_fields(cfg, params, path);
    validate(cfg, path);
    return std::make_unique<Impl>(name, cfg);
  };
  return e;
}
}  // namespace

const Registry<Quantizer>& quantizers() {
  static const Registry<Quantizer> r{
      "quantizer",
      {checked_entry<FpQuantizer>("fp", "no weight quantization (full precision)"),
       checked_entry<RtnQuantizer>("rtn", "uniform n-bit round to nearest, per row or group"),
       checked_entry<TernaryQuantizer<ternary_absmean>>(
           "ternary-absmean", "BitNet b1.58 ternary: alpha = mean|W|, t = clamp(round(W/alpha))"),
       checked_entry<TernaryQuantizer<ternary_threshold>>(
           "ternary-threshold", "threshold ternary: mu = mean, delta = 0.75 mean|W-mu|, LS alpha"),
       checked_entry<GptqQuantizer>("gptq", "GPTQ: Hessian error feedback; n-bit or ternary grid"),
       checked_entry<E2mAtqQuantizer>(
           "e2m-atq", "TWLA ternary: 4 groups per block, Euclidean fit, output-metric refit, GPTQ feedback")}};
  return r;
}

}  // namespace twla
