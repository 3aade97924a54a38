// allocators/ila_amp.cpp: see ila_amp.h.
#include "allocators/ila_amp.h"

#include <algorithm>
#include <chrono>
#include <set>

#include "allocators/ila_amp_dp.h"
#include "allocators/ila_amp_farm.h"
#include "allocators/ila_amp_measure.h"
#include "core/error.h"
#include "core/model_config.h"
#include "core/strings.h"
#include "eval/datasets.h"
#include "eval/perplexity.h"

namespace twla {

namespace {
const char* kPath = "activations.allocator";
std::string ints(const std::vector<int>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "]";
}
double since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

void check_config(const IlaAmpConfig& c) {
  TWLA_CHECK(!c.candidates.empty(), kPath, ".candidates is empty; give the widths a block may get, ",
             "e.g. [2, 4, 6, 8]");
  for (int b : c.candidates)
    TWLA_CHECK(b >= 2 && b <= 16, kPath, ".candidates has ", b, "; widths must be in 2..16 (16 = off)");
  std::set<int> uniq(c.candidates.begin(), c.candidates.end());
  TWLA_CHECK(uniq.size() == c.candidates.size(), kPath, ".candidates lists a width twice; list each once");
  TWLA_CHECK(uniq.count(c.baseline), kPath, ".baseline=", c.baseline, " is not one of the candidates ",
             ints(c.candidates), "; add it to candidates or pick one of them");
  TWLA_CHECK(c.beta >= 0, kPath, ".beta=", c.beta, " must be >= 0 (the reference: 0.5)");
  TWLA_CHECK(c.budget == -1 || c.budget > 0, kPath, ".budget=", c.budget,
             " must be a positive total of bits, or -1 for round(activations.bits * L)");
  TWLA_CHECK(c.allocation_windows >= 1, kPath, ".allocation_windows=", c.allocation_windows,
             " must be at least 1");
  TWLA_CHECK(c.allocation_seqlen == 0 || c.allocation_seqlen >= 2, kPath, ".allocation_seqlen=",
             c.allocation_seqlen, " must be >= 2, or 0 for calibration.seqlen");
  TWLA_CHECK(c.search == "cached" || c.search == "naive", kPath, ".search='", c.search,
             "'; use cached or naive", did_you_mean(c.search, {"cached", "naive"}));
  TWLA_CHECK(c.shards >= 0, kPath, ".shards=", c.shards, " must be >= 0 (0 = no shards)");
  TWLA_CHECK(c.workers >= 0, kPath, ".workers=", c.workers, " must be >= 0 (0 = the run's threads)");
  TWLA_CHECK(c.clip == "lac" || c.clip == "fixed", kPath, ".clip='", c.clip,
             "'; use lac or fixed", did_you_mean(c.clip, {"lac", "fixed"}));
  TWLA_CHECK(c.allocation_data == "c4" || c.allocation_data == "wikitext2-test" ||
                 c.allocation_data.rfind("text:", 0) == 0,
             kPath, ".allocation_data='", c.allocation_data,
             "'; use c4 (held-out), text:PATH, or wikitext2-test (reproduction only)",
             did_you_mean(c.allocation_data, {"c4", "wikitext2-test"}));
  check_lac_config(c.lac, std::string(kPath) + ".lac");
}

class IlaAmpAllocator : public PluginShell<Allocator, IlaAmpConfig> {
 public:
  IlaAmpAllocator(std::string name, IlaAmpConfig cfg) : PluginShell(std::move(name), std::move(cfg)) {
    check_config(cfg_);
  }
  void check(int n_blocks, double avg_bits) const override { budget_of(n_blocks, avg_bits); }
  Allocation allocate(const AllocationRequest& req, AllocationReport* rep) const override;

 private:
  int budget_of(int L, double avg_bits) const;
};

int IlaAmpAllocator::budget_of(int L, double avg_bits) const {
  const IlaAmpConfig& c = cfg_;
  const int budget = c.budget > 0 ? c.budget : ila_amp_budget(avg_bits, L);
  const int smallest = *std::min_element(c.candidates.begin(), c.candidates.end());
  TWLA_CHECK(budget >= smallest * L, kPath, ": the budget of ", budget, " bits (",
             c.budget > 0 ? "budget" : "round(activations.bits * L)", ", L = ", L,
             " blocks) is below the smallest candidate ", smallest, " x L = ", smallest * L,
             "; raise activations.bits (or budget) or add a smaller candidate");
  return budget;
}

Allocation IlaAmpAllocator::allocate(const AllocationRequest& req, AllocationReport* rep) const {
  const IlaAmpConfig& c = cfg_;
  const int L = req.n_blocks;
  const int budget = budget_of(L, req.avg_bits);
  TWLA_CHECK(req.ctx, "allocator ila-amp measures the model and needs a run context; ",
             "run it through `twla run` (the pipeline)");
  const AllocationContext& ctx = *req.ctx;
  AllocationReport local;
  if (!rep) rep = &local;

  auto t = std::chrono::steady_clock::now();
  const int seqlen = c.allocation_seqlen > 0 ? c.allocation_seqlen : ctx.calib_seqlen;
  NllEvaluator ev;
  ev.model = &ctx.fp_model();
  ev.windows = allocation_windows(*ctx.tok, c.allocation_data, c.allocation_windows, seqlen,
                                  ctx.calib_seed + 1, kPath, &rep->notes);
  ev.batch = ctx.batch;
  ev.ops = [&](const std::vector<int>& bits) { return ctx.fp_ops(Allocation{bits, {}}); };
  auto jobs = ila_amp_jobs(L, c.candidates, c.baseline);
  const int workers = c.workers > 0 ? c.workers : std::max(1, ctx.threads);
  auto in_process = [&] {
    return c.search == "naive" ? measure_naive(ev, jobs, workers) : measure_cached(ev, jobs, workers);
  };
  std::vector<double> nll;
  if (ctx.ila_amp_farm) {
    auto farmed = ctx.ila_amp_farm->measure(ev, jobs, L, c.shards, workers, in_process);
    if (!farmed) {   // this process measured one shard only: no allocation
      rep->metrics["alloc/shard_only"] = 1;
      return Allocation{};
    }
    nll = std::move(*farmed);
  } else {
    nll = in_process();
  }
  IlaAmpTables tab = ila_amp_tables(L, c.candidates, c.baseline, jobs, nll);
  Table3 k = ila_amp_interaction(tab.delta1, tab.pair_nll, tab.base_nll);
  DpResult dp = ila_amp_dp(tab.delta1, k, c.candidates, budget, c.beta);
  TWLA_ASSERT(dp.feasible);   // the budget check above guarantees it
  rep->timings["allocate/measure"] = since(t);
  ctx.log("ila-amp: " + std::to_string(jobs.size()) + " evaluations (" + c.search + ", " +
          std::to_string(workers) + " workers) on " + std::to_string(ev.windows.size(0)) + " x " +
          std::to_string(seqlen) + " tokens of " + c.allocation_data + ": base NLL " +
          fixed(tab.base_nll, 4) + "; bits " + ints(dp.bits) + " (" +
          std::to_string(dp.used_budget) + " of " + std::to_string(budget) + " bits)");

  const size_t B = c.candidates.size();
  for (size_t kb = 0; kb < B; ++kb) {
    std::vector<double> d;
    for (int i = 0; i < L; ++i) d.push_back(tab.delta1[size_t(i)][kb]);
    rep->series["ila_amp/delta/b" + std::to_string(c.candidates[kb])] = d;
    for (size_t kbp = 0; kbp < B; ++kbp) {
      std::vector<double> kk, pn;
      for (int i = 1; i < L; ++i) {
        kk.push_back(k[size_t(i - 1)][kbp][kb]);
        pn.push_back(tab.pair_nll[size_t(i - 1)][kbp][kb]);
      }
      const std::string key = "b" + std::to_string(c.candidates[kbp]) + "_b" + std::to_string(c.candidates[kb]);
      rep->series["ila_amp/interaction/" + key] = kk;
      rep->series["ila_amp/pair_nll/" + key] = pn;
    }
  }
  rep->series["ila_amp/candidates"] = std::vector<double>(c.candidates.begin(), c.candidates.end());
  rep->metrics["alloc/base_nll"] = tab.base_nll;
  rep->metrics["alloc/budget"] = budget;
  rep->metrics["alloc/used_budget"] = dp.used_budget;
  rep->metrics["alloc/dp_value"] = dp.best_val;
  rep->metrics["alloc/evaluations"] = double(jobs.size());

  Allocation a;
  a.act_bits = dp.bits;
  if (c.clip == "lac") {
    t = std::chrono::steady_clock::now();
    apply_lac_clips(ctx, c.lac, req.default_clip, a, rep);
    rep->timings["allocate/lac"] = since(t);
  }
  return a;
}
}  // namespace

Tensor allocation_windows(const Tokenizer& tok, const std::string& data, int windows, int seqlen,
                          int seed, const std::string& path, std::vector<std::string>* notes) {
  if (data == "c4") {
    auto ids = sample_calibration(tok, "c4", windows, seqlen, uint64_t(seed));
    return make_windows(ids, seqlen, windows);
  }
  if (data == "wikitext2-test") {
    if (notes)
      notes->push_back("WARNING: " + path + ".allocation_data=wikitext2-test tunes the allocation on "
                       "the WikiText-2 test split, which is also evaluated: paper reproduction only; "
                       "WikiText-2 numbers of this run are not held-out");
    return make_windows(tok.encode_for_model(load_ppl_dataset("wikitext2").text), seqlen, windows);
  }
  TWLA_CHECK(data.rfind("text:", 0) == 0, path, ".allocation_data='", data,
             "'; use c4, text:PATH or wikitext2-test");
  return make_windows(tok.encode_for_model(load_ppl_dataset(data).text), seqlen, windows);
}

Registry<Allocator>::Entry ila_amp_entry() {
  return plugin_entry<Allocator, IlaAmpAllocator>(
      "ila-amp", "TWLA: per-block widths from measured NLL deltas + pair interactions (DP), per-linear LAC clip");
}

}  // namespace twla
