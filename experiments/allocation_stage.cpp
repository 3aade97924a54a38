// experiments/allocation_stage.cpp: see allocation_stage.h.
#include "experiments/allocation_stage.h"

#include "core/model_config.h"
#include "experiments/quant_ops.h"

namespace twla {

AllocationContext allocation_context(const Descriptor& d, const Model& model, const Tokenizer& tok,
                                     const Rotation& rot, std::unique_ptr<Model>& fp_model,
                                     const std::string& model_dir,
                                     std::function<void(const std::string&)> say) {
  AllocationContext c;
  const bool compat = d.compat == "reference";
  const double clip = d.activations.clip;
  c.fp_model = [&fp_model, model_dir]() -> const Model& {
    if (!fp_model) fp_model = std::make_unique<Model>(model_dir);
    return *fp_model;
  };
  c.q_model = &model;
  c.fp_ops = [&rot, clip, compat](const Allocation& a) -> std::unique_ptr<LinearOps> {
    return std::make_unique<RotatedFpOps>(&rot, a, clip, compat);
  };
  c.q_ops = [&rot, clip, compat](const Allocation& a) -> std::unique_ptr<LinearOps> {
    return std::make_unique<QuantLinearOps>(&rot, a, clip, compat);
  };
  c.rotate_input = [&rot](const std::string& name, const Tensor& x) {
    return rot.is_identity() ? x : rot.input(name, x);
  };
  c.tok = &tok;
  c.calib_dataset = d.calibration.dataset;
  c.calib_seqlen = d.calibration.seqlen;
  c.calib_seed = d.calibration.seed;
  c.batch = d.eval.batch;
  c.threads = d.threads > 0 ? d.threads : get_threads();
  c.compat_reference = compat;
  c.log = std::move(say);
  return c;
}

void record_allocation(const Allocation& a, const AllocationReport& r, RunRecord& rec,
                       const std::function<void(const std::string&)>& say) {
  rec.series["act_bits"] = std::vector<double>(a.act_bits.begin(), a.act_bits.end());
  for (const auto& [k, v] : r.series) rec.series[k] = v;
  for (const auto& [k, v] : r.metrics) rec.metrics[k] = v;
  for (const auto& [k, v] : r.timings) rec.timings[k] = v;
  for (const auto& n : r.notes) say(n);
  if (a.clip.empty()) return;
  std::vector<double> clips;
  for (int b = 0; b < int(a.act_bits.size()); ++b)
    for (const auto& name : block_linear_names(b)) {
      auto it = a.clip.find(name);
      clips.push_back(it == a.clip.end() ? -1.0 : it->second);
    }
  rec.series["act_clip"] = clips;   // per linear, block_linear_names order; -1 = the default
  for (auto& l : rec.layers)
    if (a.clip.count(l.name)) l.extra["act_clip"] = a.clip.at(l.name);
}
}  // namespace twla
