// allocators/lac_model.cpp: see lac_model.h.
#include "allocators/lac_model.h"

#include <set>

#include "core/error.h"
#include "core/model_config.h"
#include "eval/datasets.h"
#include "eval/perplexity.h"

namespace twla {

namespace {
// Runs the run's ops and feeds every linear's rotated input to that linear's search.
class LacOps : public LinearOps {
 public:
  LacOps(const LinearOps& inner, const AllocationContext& ctx, int bits, std::vector<double> grid)
      : inner_(inner), ctx_(ctx), bits_(bits), grid_(std::move(grid)) {}
  Tensor linear(const std::string& name, const Tensor& x, const Tensor& W) const override {
    auto it = searches_.find(name);
    if (it == searches_.end())
      it = searches_.emplace(name, LacSearch(bits_, grid_, ctx_.compat_reference)).first;
    it->second.add(ctx_.rotate_input ? ctx_.rotate_input(name, x) : x, W);
    return inner_.linear(name, x, W);
  }
  std::map<std::string, LacSearch>& searches() const { return searches_; }

 private:
  const LinearOps& inner_;
  const AllocationContext& ctx_;
  int bits_;
  std::vector<double> grid_;
  mutable std::map<std::string, LacSearch> searches_;
};
}  // namespace

void check_lac_config(const LacConfig& c, const std::string& path) {
  const double last = c.grid_start + (c.grid_size - 1) * c.grid_step;
  TWLA_CHECK(c.grid_size >= 1 && c.grid_step > 0 && c.grid_start > 0 && last <= 1.0 + 1e-12,
             path, ": grid_start=", c.grid_start, ", grid_step=", c.grid_step, ", grid_size=",
             c.grid_size, " must give clip ratios in (0, 1]; the reference uses 0.5, 0.005, 100");
  TWLA_CHECK(c.samples >= 1, path, ".samples=", c.samples, " must be at least 1 (the reference: 8)");
}

std::map<std::string, LacChoice> lac_search_model(const AllocationContext& ctx, int bits,
                                                  const LacConfig& cfg, double default_clip) {
  TWLA_ASSERT(ctx.q_model && ctx.q_ops && ctx.tok);
  const Model& m = *ctx.q_model;
  auto ids = sample_calibration(*ctx.tok, ctx.calib_dataset, cfg.samples, ctx.calib_seqlen,
                                uint64_t(ctx.calib_seed));
  Tensor windows = make_windows(ids, ctx.calib_seqlen, cfg.samples);
  Allocation all_at;
  all_at.act_bits.assign(size_t(m.n_blocks()), bits);
  auto inner = ctx.q_ops(all_at);
  LacOps ops(*inner, ctx, bits, lac_grid(cfg.grid_start, cfg.grid_step, cfg.grid_size));
  final_hidden(m, windows, ops, ctx.batch, "lac A" + std::to_string(bits));
  std::map<std::string, LacChoice> out;
  for (auto& [name, s] : ops.searches()) out[name] = s.best(default_clip);
  return out;
}

// Per-linear LAC at each distinct width of `bits` (16 = off: no clip), into alloc.clip and report.
void apply_lac_clips(const AllocationContext& ctx, const LacConfig& lac, double default_clip,
               Allocation& alloc, AllocationReport* rep) {
  std::set<int> widths(alloc.act_bits.begin(), alloc.act_bits.end());
  for (int w : widths) {
    if (w >= 16) continue;
    auto choice = lac_search_model(ctx, w, lac, default_clip);
    std::vector<double> clips, mses;
    for (int b = 0; b < int(alloc.act_bits.size()); ++b)
      for (const auto& name : block_linear_names(b)) {
        auto it = choice.find(name);
        TWLA_ASSERT(it != choice.end(), name);
        clips.push_back(it->second.clip);
        mses.push_back(it->second.mse);
        if (alloc.act_bits[size_t(b)] == w) alloc.clip[name] = it->second.clip;
      }
    if (rep) {
      rep->series["lac/A" + std::to_string(w) + "/clip"] = clips;
      rep->series["lac/A" + std::to_string(w) + "/mse"] = mses;
    }
  }
}

}  // namespace twla
