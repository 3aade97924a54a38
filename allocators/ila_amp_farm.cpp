// allocators/ila_amp_farm.cpp: see ila_amp_farm.h.
#include "allocators/ila_amp_farm.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <utility>

#include "core/error.h"

namespace twla {

namespace {
std::string name_of(const IlaAmpShardResult& r) {
  return r.file.empty() ? "shard " + std::to_string(r.shard) + " of " + std::to_string(r.shards)
                        : "shard file '" + r.file + "'";
}
}  // namespace

IlaAmpShardPlan ila_amp_shard_plan(const std::vector<IlaAmpJob>& jobs, int L, int shards,
                                   const std::string& what) {
  TWLA_ASSERT(!jobs.empty() && jobs[0].kind == IlaAmpJob::kBase);
  // The groups of measure_cached: (start block, candidate of that block) -> job ids.
  std::map<std::pair<int, int>, std::vector<int>> groups;
  for (size_t j = 1; j < jobs.size(); ++j) {
    const auto& job = jobs[j];
    groups[{job.start, job.kind == IlaAmpJob::kSingle ? job.kb : job.kbp}].push_back(int(j));
  }
  IlaAmpShardPlan p;
  p.groups = int(groups.size());
  TWLA_CHECK(shards >= 1 && shards <= std::max(1, p.groups), what, "=", shards, ": the work list of ",
             jobs.size(), " evaluations has ", p.groups, " groups of the cached search (", L,
             " blocks); give 1..", std::max(1, p.groups), " shards");
  p.shards = shards;
  p.shard_of.assign(jobs.size(), -1);
  p.jobs.assign(size_t(shards), {});
  p.blocks.assign(size_t(shards), int64_t(L));   // each shard's baseline pass
  p.job_blocks.assign(jobs.size(), 0);
  p.job_blocks[0] = L;
  struct G {
    int64_t cost;
    std::pair<int, int> key;
    const std::vector<int>* ids;
  };
  std::vector<G> order;
  for (const auto& [key, ids] : groups) {
    const int64_t suffix = L - key.first - 1;
    order.push_back({1 + suffix * int64_t(ids.size()), key, &ids});
    // The shared first block is charged to the group's first job.
    for (size_t i = 0; i < ids.size(); ++i) p.job_blocks[size_t(ids[i])] = suffix + (i == 0 ? 1 : 0);
  }
  // Longest first; ties in key order, so the plan depends on the work list alone.
  std::stable_sort(order.begin(), order.end(), [](const G& a, const G& b) { return a.cost > b.cost; });
  for (const auto& g : order) {
    const size_t k = size_t(std::min_element(p.blocks.begin(), p.blocks.end()) - p.blocks.begin());
    p.blocks[k] += g.cost;
    for (int j : *g.ids) p.jobs[k].push_back(j), p.shard_of[size_t(j)] = int(k);
  }
  for (auto& v : p.jobs) std::sort(v.begin(), v.end());
  return p;
}

IlaAmpShardResult ila_amp_measure_shard(const NllEvaluator& ev, const std::vector<IlaAmpJob>& jobs,
                                        const IlaAmpShardPlan& plan, int k, int workers,
                                        const std::string& key) {
  TWLA_ASSERT(k >= 0 && k < plan.shards && plan.shard_of.size() == jobs.size());
  std::vector<IlaAmpJob> sub{jobs[0]};
  for (int j : plan.jobs[size_t(k)]) sub.push_back(jobs[size_t(j)]);
  const std::vector<double> nll = measure_cached(ev, sub, workers);
  IlaAmpShardResult r;
  r.key = key;
  r.shard = k, r.shards = plan.shards;
  r.n_jobs = int64_t(jobs.size());
  r.jobs = plan.jobs[size_t(k)];
  r.base_nll = nll[0];
  r.nll.assign(nll.begin() + 1, nll.end());
  return r;
}

void check_ila_amp_shard(const IlaAmpShardResult& r, const IlaAmpShardPlan& plan, size_t n_jobs,
                         const std::string& key) {
  const std::string f = name_of(r);
  TWLA_CHECK(r.key == key, f, " was measured for key ", r.key, ", not this run's ", key,
             " (the descriptor changed since): delete it, or measure it again with "
             "`twla allocate DESCRIPTOR --shard ", r.shard + 1, "/", r.shards, "`");
  TWLA_CHECK(r.n_jobs == int64_t(n_jobs), f, " covers a work list of ", r.n_jobs,
             " evaluations, this run's has ", n_jobs, "; delete it and measure again");
  TWLA_CHECK(r.shards == plan.shards && r.shard >= 0 && r.shard < plan.shards, f, " is shard ",
             r.shard + 1, " of ", r.shards, ", not one of ", plan.shards, "; delete it or use --shard k/",
             r.shards);
  TWLA_CHECK(r.jobs == plan.jobs[size_t(r.shard)], f, " lists other job ids than shard ", r.shard + 1,
             " of ", plan.shards, " of this work list (another twla version?); delete it and measure again");
  TWLA_CHECK(r.nll.size() == r.jobs.size(), f, " has ", r.nll.size(), " NLLs for ", r.jobs.size(),
             " jobs (truncated?); delete it and measure again");
  TWLA_CHECK(std::isfinite(r.base_nll), f, ": base NLL is not finite; delete it and measure again");
  for (size_t i = 0; i < r.nll.size(); ++i)
    TWLA_CHECK(std::isfinite(r.nll[i]), f, ": the NLL of job ", r.jobs[i],
               " is not finite; delete it and measure again");
}

std::vector<double> ila_amp_merge_shards(const std::vector<IlaAmpShardResult>& results,
                                         const IlaAmpShardPlan& plan, size_t n_jobs,
                                         const std::string& key) {
  std::vector<const IlaAmpShardResult*> by_shard(size_t(plan.shards), nullptr);
  for (const auto& r : results) {
    check_ila_amp_shard(r, plan, n_jobs, key);
    by_shard[size_t(r.shard)] = &r;
  }
  for (int k = 0; k < plan.shards; ++k)
    TWLA_CHECK(by_shard[size_t(k)], "shard ", k + 1, " of ", plan.shards,
               " is missing; measure it with `twla allocate DESCRIPTOR --shard ", k + 1, "/", plan.shards, "`");
  std::vector<double> nll(n_jobs, 0.0);
  nll[0] = by_shard[0]->base_nll;
  for (const auto* r : by_shard) {
    TWLA_CHECK(r->base_nll == nll[0], name_of(*r), ": its base NLL ", r->base_nll, " differs from ",
               name_of(*by_shard[0]), "'s ", nll[0],
               " (measured on another machine or library build?); measure both again on one setup");
    for (size_t i = 0; i < r->jobs.size(); ++i) nll[size_t(r->jobs[i])] = r->nll[i];
  }
  return nll;
}

}  // namespace twla
