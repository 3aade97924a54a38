// experiments/golden_check.h: runs every case of a golden-vector folder (the format of
// ../shared/golden: <name>.safetensors + <name>.json) against this port and says, per case, pass or
// fail and the worst error as a fraction of its tolerance. `twla check-golden DIR` and
// tests/experiments/test_check_golden.cpp call it.
// Not here: the algorithms (quantizers/, rotations/, allocators/). The Catch2 tests compare with
// the reference only through these functions (tests/support/golden_cases.h): whole cases
// (check_golden_case) or one part of a case (the per-kind check_* below), so every comparison
// and tolerance lives here once and `twla check-golden` runs all of them.
// Source: ../shared/golden/README.md (case kinds, tensors, tolerances); each sidecar's
// `reference.functions`, name prefix and `hyperparameters` pick and configure the check, so
// unseen cases of the same kinds (other seeds, shapes, bits) run without code changes.
#pragma once
#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/safetensors.h"

namespace twla::golden {

struct CaseResult {
  std::string name, kind;
  bool pass = false, skipped = false;
  double max_err_ratio = 0;  // worst |error| / tolerance over the checked quantities (<= 1 passes)
  std::string detail;        // the worst quantity, or the first failures; why skipped
};

// Every case (*.json with a .safetensors beside it) in `dir`, sorted by name. A case that throws
// (missing tensor, bad sidecar) is a failure whose detail is the message; an unknown kind fails too.
std::vector<CaseResult> check_golden_dir(const std::string& dir);
// One case: dir/<name>.{json,safetensors}.
CaseResult check_golden_case(const std::string& dir, const std::string& name);

// --- for the per-kind checkers (golden_check_*.cpp) ---

struct Case {
  std::string name;
  nlohmann::json meta;                      // the .json sidecar
  std::shared_ptr<SafetensorsFile> file;
  const nlohmann::json& hp() const { return meta.at("hyperparameters"); }
  const nlohmann::json& scalars() const { return meta.at("scalars"); }
  bool has(const std::string& k) const { return file->has(k); }
  Tensor t(const std::string& k) const;     // stored dtype; Error naming case and tensor if absent
  Tensor f32(const std::string& k) const { return t(k).to(at::kFloat); }
  Tensor f64(const std::string& k) const { return t(k).to(at::kDouble); }
};
// dir/<name>.json and .safetensors; Error naming the file when either is missing or unreadable.
Case load_case(const std::string& dir, const std::string& name);

// Collects the checks of one case: each quantity as a ratio error/tolerance (<= 1 passes) or an
// exact condition. Keeps the worst ratio and the failures for the detail line.
class Checks {
 public:
  void ratio(const std::string& what, double r);
  void exact(const std::string& what, bool ok, const std::string& why = "");
  // max |a-b| / (rtol |b| + atol), 0 where equal (the tests' worst_ratio / allclose ratio)
  void close(const std::string& what, const Tensor& got, const Tensor& want, double rtol, double atol);
  // max |a-b| / max|b| <= tol
  void rel_to_max(const std::string& what, const Tensor& got, const Tensor& want, double tol);
  // same shape and equal values (-0.0 == 0.0)
  void same(const std::string& what, const Tensor& got, const Tensor& want);
  void scalar(const std::string& what, double got, double want, double rtol);
  void fill(CaseResult& r) const;
  // The worst ratio among the quantities whose name contains `needle` (0 when none), for
  // callers that hold a part of a case to a tighter margin than its tolerance.
  double worst(const std::string& needle) const;

 private:
  std::vector<std::pair<std::string, double>> ratios_;
  double worst_ = 0;
  std::string worst_what_;
  std::vector<std::string> failures_;
  int n_ = 0;
};

// The kinds. Each runs the port on the case's inputs and records into `c`.
void check_rtn_gptq(const Case& g, Checks& c);          // rtn_*  (IST-DASLab Quantizer)
void check_rtn_uniform_affine(const Case& g, Checks& c);
void check_act_quant(const Case& g, Checks& c);
void check_gptq(const Case& g, Checks& c);
void check_gptq_add_batch(const Case& g, Checks& c);     //   (part of check_gptq) H from X
void check_e2m_primitives(const Case& g, Checks& c);
void check_e2m_full(const Case& g, Checks& c);         // e2m_atq_full_*, e2m_atq_ternary_rtn_*: the three below
void check_e2m_add_batch(const Case& g, Checks& c);      //   H after each add_batch, S blocks
void check_e2m_stored_search(const Case& g, Checks& c);  //   mask search curves from the stored block inputs
void check_e2m_layer(const Case& g, Checks& c);          //   the layer end to end (blocks, choices, Q, compat)
void check_kotms(const Case& g, Checks& c);              // kotms_*: the three below
void check_kotms_factors(const Case& g, Checks& c);      //   the (l, r) table
void check_kotms_forward(const Case& g, Checks& c);      //   Cayley factors, W_rot at given parameters
void check_kotms_runs(const Case& g, Checks& c);         //   every Adam run step by step
void check_ila_amp_dp(const Case& g, Checks& c);   // ila_amp_dp_*  (golden_check_alloc.cpp)
void check_lac(const Case& g, Checks& c);          // lac_search_*

}  // namespace twla::golden
