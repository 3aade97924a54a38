// experiments/golden_check.cpp: the folder walk, the kind of a case (from its sidecar), the
// comparison helpers and the result lines. The per-kind checks are in golden_check_*.cpp.
#include "experiments/golden_check.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "core/error.h"
#include "core/fs.h"

namespace twla::golden {

Tensor Case::t(const std::string& k) const {
  TWLA_CHECK(file->has(k), "golden case ", name, " has no tensor '", k,
             "' that its kind needs; regenerate the case or fix its name");
  return file->load_raw(k);
}

namespace {
std::string fmt(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.3g", v);
  return b;
}
}  // namespace

Case load_case(const std::string& dir, const std::string& name) {
  Case g;
  g.name = name;
  g.meta = nlohmann::json::parse(read_file(dir + "/" + name + ".json"));
  g.file = std::make_shared<SafetensorsFile>(dir + "/" + name + ".safetensors");
  return g;
}

double Checks::worst(const std::string& needle) const {
  double w = 0;
  for (const auto& [what, r] : ratios_)
    if (what.find(needle) != std::string::npos) w = std::max(w, r);
  return w;
}

void Checks::ratio(const std::string& what, double r) {
  ++n_;
  if (std::isnan(r)) r = INFINITY;
  ratios_.emplace_back(what, r);
  if (r > worst_ || worst_what_.empty()) worst_ = std::max(worst_, r), worst_what_ = what;
  if (!(r <= 1)) failures_.push_back(what + " " + fmt(r) + "x tol");
}

void Checks::exact(const std::string& what, bool ok, const std::string& why) {
  ++n_;
  if (!ok) failures_.push_back(what + " differs" + (why.empty() ? "" : " (" + why + ")"));
}

void Checks::close(const std::string& what, const Tensor& got, const Tensor& want, double rtol,
                   double atol) {
  if (got.sizes() != want.sizes()) {
    exact(what, false, "shape " + std::to_string(got.dim()) + "-d vs " + std::to_string(want.dim()) +
                           "-d, " + std::to_string(got.numel()) + " vs " +
                           std::to_string(want.numel()) + " elements");
    return;
  }
  if (!got.numel()) return ratio(what, 0);
  Tensor a = got.to(at::kDouble), b = want.to(at::kDouble);
  Tensor r = (a - b).abs() / (b.abs() * rtol + atol);
  ratio(what, at::where(a == b, at::zeros_like(r), r).max().item<double>());
}

void Checks::rel_to_max(const std::string& what, const Tensor& got, const Tensor& want, double tol) {
  if (got.sizes() != want.sizes()) return exact(what, false, "shape");
  const double m = max_abs(want);
  ratio(what, max_abs_diff(got.to(at::kDouble), want.to(at::kDouble)) / (m > 0 ? m : 1.0) / tol);
}

void Checks::same(const std::string& what, const Tensor& got, const Tensor& want) {
  if (got.sizes() != want.sizes()) return exact(what, false, "shape");
  Tensor ne = got.to(at::kDouble) != want.to(at::kDouble);
  const int64_t n = ne.sum().item<int64_t>();
  exact(what, n == 0, std::to_string(n) + " of " + std::to_string(want.numel()) + " entries");
}

void Checks::scalar(const std::string& what, double got, double want, double rtol) {
  const double tol = rtol * std::abs(want);
  ratio(what, got == want ? 0 : std::abs(got - want) / (tol > 0 ? tol : 1e-300));
}

void Checks::fill(CaseResult& r) const {
  r.max_err_ratio = worst_;
  r.pass = failures_.empty() && n_ > 0;
  if (n_ == 0) {
    r.detail = "nothing was checked";
  } else if (failures_.empty()) {
    r.detail = std::to_string(n_) + " checks; " + (worst_ > 0 ? "worst " + worst_what_ : "all exact");
  } else {
    r.detail = std::to_string(failures_.size()) + " of " + std::to_string(n_) + " checks failed: ";
    for (size_t i = 0; i < failures_.size() && i < 3; ++i) r.detail += (i ? "; " : "") + failures_[i];
    if (failures_.size() > 3) r.detail += "; ...";
  }
}

namespace {
bool has_fn(const nlohmann::json& meta, const std::string& needle) {
  if (!meta.contains("reference") || !meta["reference"].contains("functions")) return false;
  for (const auto& f : meta["reference"]["functions"])
    if (f.get<std::string>().find(needle) != std::string::npos) return true;
  return false;
}
bool starts(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }

// The kind from the functions the reference ran (and the name prefix where they coincide).
std::string kind_of(const std::string& name, const nlohmann::json& meta) {
  if (has_fn(meta, "dp_allocate_bits") || starts(name, "ila_amp_dp")) return "ila_amp_dp";
  if (has_fn(meta, "QLinear.cali") || starts(name, "lac_search")) return "lac_search";
  if (has_fn(meta, "TRAGPTQ.fasterquant")) {   // before GPTQ: TRAGPTQ contains its name
    const auto& hp = meta.at("hyperparameters");
    return hp.value("disable_gptq", false) ? "e2m_atq_ternary_rtn" : "e2m_atq_full";
  }
  if (has_fn(meta, "gptq.py:GPTQ.fasterquant")) return "gptq";
  if (has_fn(meta, "quant.py:Quantizer.find_params")) return "rtn_gptq";
  if (has_fn(meta, "E2M_ATQ.py:")) return "e2m_atq_primitives";
  if (has_fn(meta, "k_preprocessor_ternary.py:")) return "kotms";
  if (has_fn(meta, "UniformAffineQuantizer")) {
    const auto& hp = meta.at("hyperparameters");
    return hp.contains("configs") ? "rtn_uniform_affine" : "act_quant";
  }
  return "";
}
}  // namespace

CaseResult check_golden_case(const std::string& dir, const std::string& name) {
  CaseResult r;
  r.name = name;
  try {
    const nlohmann::json meta = nlohmann::json::parse(read_file(dir + "/" + name + ".json"));
    r.kind = kind_of(name, meta);
    TWLA_CHECK(!r.kind.empty(), "golden case ", name, ": no checker for reference.functions ",
               meta.value("reference", nlohmann::json::object()).value("functions", nlohmann::json()).dump(),
               "; known kinds: rtn, rtn_uniform_affine, act_quant, gptq, e2m_atq_*, kotms, ila_amp_dp, lac_search");
    const Case g = load_case(dir, name);
    Checks c;
    if (r.kind == "rtn_gptq") check_rtn_gptq(g, c);
    else if (r.kind == "rtn_uniform_affine") check_rtn_uniform_affine(g, c);
    else if (r.kind == "act_quant") check_act_quant(g, c);
    else if (r.kind == "gptq") check_gptq(g, c);
    else if (r.kind == "e2m_atq_primitives") check_e2m_primitives(g, c);
    else if (r.kind == "kotms") check_kotms(g, c);
    else if (r.kind == "ila_amp_dp") check_ila_amp_dp(g, c);
    else if (r.kind == "lac_search") check_lac(g, c);
    else check_e2m_full(g, c);
    c.fill(r);
  } catch (const std::exception& e) {
    r.pass = false;
    r.max_err_ratio = INFINITY;
    std::string m = e.what();
    r.detail = "error: " + m.substr(0, m.find('\n'));
  }
  return r;
}

std::vector<CaseResult> check_golden_dir(const std::string& dir) {
  namespace fs = std::filesystem;
  TWLA_CHECK(dir_exists(dir), "golden folder '", dir, "' does not exist; pass a folder of ",
             "<case>.json + <case>.safetensors pairs (e.g. ../shared/golden)");
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) {
    const fs::path p = e.path();
    if (p.extension() != ".json") continue;
    fs::path st = p;
    st.replace_extension(".safetensors");
    if (fs::exists(st)) names.push_back(p.stem().string());
  }
  std::sort(names.begin(), names.end());
  std::vector<CaseResult> out;
  for (const auto& n : names) out.push_back(check_golden_case(dir, n));
  return out;
}

}  // namespace twla::golden
