// experiments/golden_check_quant.cpp: golden checks of the n-bit quantizers: RTN with GPTQ's
// Quantizer (rtn_*), TWLA's UniformAffineQuantizer on weight rows (rtn_uniform_affine_*) and on
// tokens (act_quant_*), and GPTQ (gptq_*, from the stored H, plus add_batch from X).
// Tolerances: ../shared/golden/README.md and each sidecar's `tolerances`, as in
// tests/quantizers/test_{rtn,act_quant,gptq,hessian}.cpp.
#include <cmath>
#include <cstdio>

#include "core/types.h"
#include "experiments/golden_check.h"
#include "quantizers/act_quant.h"
#include "quantizers/gptq.h"
#include "quantizers/hessian.h"
#include "quantizers/rtn.h"

namespace twla::golden {

void check_rtn_gptq(const Case& g, Checks& c) {
  const auto& hp = g.hp();
  RtnSpec s;
  s.bits = hp.at("bits").get<int>();
  s.symmetric = hp.at("sym").get<bool>();
  s.group_size = hp.at("groupsize").get<int64_t>();
  s.mse_norm = hp.value("mse", false) ? 2.4 : 0;   // llama.py's norm when mse is on
  s.rule = RtnRule::gptq;
  UniformQuant q = rtn_uniform(g.f32("W"), s);
  c.same("codes", q.codes, g.t("codes"));
  c.same("zero", q.zero, g.f32("zero"));
  c.rel_to_max("scale (of 1e-6 x max)", q.scale, g.f32("scale"), 1e-6);
  c.ratio("Q (of 1e-7 abs)", max_abs_diff(q.dequant, g.f32("Q")) / 1e-7);
  c.exact("packed dequant == Q", at::equal(dequantize(pack_uniform(q)), q.dequant));
}

void check_rtn_uniform_affine(const Case& g, Checks& c) {
  Tensor W = g.f32("W");
  for (const auto& cf : g.hp().at("configs")) {
    const bool sym = cf.at("sym").get<bool>();
    const bool grouped = !cf.at("gs").is_null();
    std::string key = "b" + std::to_string(cf.at("bits").get<int>()) + (sym ? "_sym" : "_asym") +
                      (grouped ? "_g" + std::to_string(cf.at("gs").get<int>()) : "_row");
    if (cf.contains("mse") && !cf.at("mse").is_null()) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "_mse%.1f", cf.at("mse").get<double>());
      key += buf;
    }
    RtnSpec s;
    s.bits = cf.at("bits").get<int>();
    s.symmetric = sym;
    s.group_size = grouped ? cf.at("gs").get<int64_t>() : -1;
    s.rule = RtnRule::twla;
    s.mse_norm = cf.contains("mse") && !cf.at("mse").is_null() ? cf.at("mse").get<double>() : 0;
    s.compat_reference = true;
    UniformQuant q = rtn_uniform(W, s);
    c.ratio(key + ".Wq (of 1e-7 abs)", max_abs_diff(q.dequant, g.f32(key + ".Wq")) / 1e-7);
    c.rel_to_max(key + ".scale (of 1e-6 x max)", q.scale.reshape({-1, 1}), g.f32(key + ".scale"), 1e-6);
    c.same(key + ".round_zero_point", q.zero.reshape({-1, 1}), g.f32(key + ".round_zero_point"));
  }
}

namespace {
// The generator's tag of a lac value: Python repr with '.' -> 'p' (0.9 -> 0p9), None -> none.
std::string lac_tag(const nlohmann::json& v) {
  if (v.is_null()) return "none";
  char b[32];
  std::snprintf(b, sizeof b, "%.15g", v.get<double>());
  std::string s = b;
  if (s.find('.') == std::string::npos && s.find('e') == std::string::npos) s += ".0";
  for (auto& ch : s) if (ch == '.') ch = 'p';
  return s;
}
}  // namespace

void check_act_quant(const Case& g, Checks& c) {
  const auto& hp = g.hp();
  std::vector<std::string> inputs;
  for (auto it = g.meta.at("tensors").begin(); it != g.meta.at("tensors").end(); ++it)
    if (it.value().value("role", "") == "input") inputs.push_back(it.key());
  for (const auto& input : inputs) {
    Tensor x = g.f32(input);
    for (const auto& bj : hp.at("bits")) {
      const int bits = bj.get<int>();
      for (const auto& lac : hp.at("lac_values")) {
        const std::string key = input + ".b" + std::to_string(bits) + "_lac" + lac_tag(lac);
        AffineSpec s;
        s.bits = bits;
        s.clip = lac.is_null() ? 0.0 : lac.get<double>();
        s.symmetric = hp.value("symmetric", false);
        s.compat_reference = true;
        AffineParams p;
        Tensor y = act_fake_quant(x, s, &p);
        Tensor tol = x.abs().clamp_min(1.0).to(at::kDouble) * 1e-6;   // 1e-6 * max(1, |x|)
        Tensor out = g.f32(key + ".out");
        if (y.sizes() != out.sizes()) {
          c.exact(key + ".out", false, "shape");
          continue;
        }
        c.ratio(key + ".out (of 1e-6 max(1,|x|))",
                ((y.to(at::kDouble) - out.to(at::kDouble)).abs() / tol).max().item<double>());
        Tensor gs = g.f32(key + ".scale");
        c.ratio(key + ".scale (of rtol 1e-6)",
                ((p.scale - gs).abs() / gs.abs()).max().item<double>() / 1e-6);
        c.same(key + ".round_zero_point", p.zero, g.f32(key + ".round_zero_point"));
      }
    }
  }
}

// add_batch: X in chunks of add_batch_rows rows, each one sample (cases without X: nothing).
void check_gptq_add_batch(const Case& g, Checks& c) {
  const auto& hp = g.hp();
  if (!g.has("X") || !hp.contains("add_batch_rows")) return;
  Tensor X = g.f32("X");
  const int64_t rows = hp.at("add_batch_rows").get<int64_t>();
  HessianAccumulator acc;
  for (int64_t j = 0; j + rows <= X.size(0); j += rows)
    hessian_add_batch(acc, X.narrow(0, j, rows).unsqueeze(0));
  c.rel_to_max("H from add_batch (of 1e-5 x max)", acc.H, g.f32("H"), 1e-5);
}

void check_gptq(const Case& g, Checks& c) {
  const auto& hp = g.hp();
  const auto& sc = g.scalars();
  GptqConfig cfg;
  cfg.bits = hp.at("bits").get<int>();
  cfg.sym = hp.at("sym").get<bool>();
  cfg.group_size = hp.at("groupsize").get<int>();
  cfg.act_order = hp.at("actorder").get<bool>();
  cfg.static_groups = hp.at("static_groups").get<bool>();
  cfg.percdamp = hp.at("percdamp").get<double>();
  cfg.blocksize = hp.at("blocksize").get<int>();
  Tensor W = g.f32("W");
  const double wmax = max_abs(W);
  check_gptq_add_batch(g, c);
  GptqOutput o = gptq_quantize(W, g.f32("H"), cfg, g.name, /*keep_trace=*/true);
  c.same("codes", o.codes, g.t("codes"));
  c.same("zero", o.zero, g.f32("zero"));
  c.same("g_idx", o.g_idx, g.t("g_idx"));
  if (g.has("perm")) c.same("perm", o.perm, g.t("perm"));
  c.close("scale (rtol 1e-5)", o.scale, g.f32("scale"), 1e-5, 0);
  c.ratio("Q (of 1e-5 max|W|)", max_abs_diff(o.Q, g.f32("Q")) / (1e-5 * wmax));
  c.rel_to_max("H_damped (of 1e-4 x max)", o.H_damped, g.f32("H_damped"), 1e-4);
  c.rel_to_max("Hinv (of 1e-4 x max)", o.Hinv, g.f32("Hinv"), 1e-4);
  c.ratio("W_fed (of 1e-5 max|W|)", max_abs_diff(o.W_fed, g.f32("W_fed")) / (1e-5 * wmax));
  Tensor L = g.f32("Losses");
  c.close("Losses (rtol 1e-3)", o.Losses, L, 1e-3, 1e-6 * max_abs(L));
  c.scalar("error (rtol 1e-3)", o.error, sc.at("error").get<double>(), 1e-3);
  c.scalar("damp (rtol 1e-6)", o.damp, sc.at("damp").get<double>(), 1e-6);
  c.exact("dead_columns", o.dead == sc.at("dead_columns").get<std::vector<int64_t>>());
  Tensor s = o.scale.index_select(1, o.g_idx), z = o.zero.index_select(1, o.g_idx);
  c.exact("Q == scale (codes - zero)", at::equal(s * (o.codes.to(at::kFloat) - z), o.Q));
  c.exact("packed dequant == Q", at::equal(dequantize(gptq_pack(o, cfg)), o.Q));
  // The reference's own chol(H^-1) sequence (cholesky, cholesky_inverse, cholesky) passes too.
  GptqConfig rc = cfg;
  rc.hinv_reference = true;
  GptqOutput r = gptq_quantize(W, g.f32("H"), rc, g.name, /*keep_trace=*/true);
  c.same("codes (hinv_reference)", r.codes, g.t("codes"));
  c.rel_to_max("Hinv (hinv_reference, of 1e-4 x max)", r.Hinv, g.f32("Hinv"), 1e-4);
  c.ratio("Q (hinv_reference, of 1e-5 max|W|)", max_abs_diff(r.Q, g.f32("Q")) / (1e-5 * wmax));
}

}  // namespace twla::golden
