// allocators/ila_amp_cost.cpp: see ila_amp_cost.h.
#include "allocators/ila_amp_cost.h"

#include <algorithm>
#include <set>
#include <utility>

namespace twla {

IlaAmpCost ila_amp_cost(const std::vector<IlaAmpJob>& jobs, int L) {
  IlaAmpCost c;
  c.evaluations = int64_t(jobs.size());
  c.naive_blocks = c.naive_loads = c.evaluations * L;
  c.cached_blocks = c.cached_loads = L;   // the baseline pass (jobs[0])
  std::set<std::pair<int, int>> groups;   // (start block, its candidate): one shared block each
  for (size_t j = 1; j < jobs.size(); ++j) {
    const auto& job = jobs[j];
    groups.insert({job.start, job.kind == IlaAmpJob::kSingle ? job.kb : job.kbp});
    c.cached_blocks += L - job.start - 1;   // the suffix after the shared first block
  }
  c.cached_blocks += int64_t(groups.size());
  for (const auto& g : groups) c.cached_loads += L - g.first;
  return c;
}

IlaAmpCost ila_amp_cost_closed(int L, int Bp) {
  IlaAmpCost c;
  const int64_t l = L, b = Bp;
  c.evaluations = 1 + b * l + b * b * std::max<int64_t>(l - 1, 0);
  c.naive_blocks = c.naive_loads = c.evaluations * l;
  c.cached_blocks = l + b * l * (l + 1) / 2 + b * b * l * (l - 1) / 2;
  c.cached_loads = l + b * l * (l + 1) / 2;
  return c;
}

double ila_amp_naive_seconds(const IlaAmpCost& c, int L, const IlaAmpUnitTimes& t) {
  return double(c.evaluations) * (t.embed_s + double(L) * (t.block_s + t.load_s) + t.head_s);
}

double ila_amp_cached_seconds(const IlaAmpCost& c, int L, const IlaAmpUnitTimes& t, int workers) {
  const double base = t.embed_s + double(L) * (t.block_s + t.load_s) + t.head_s;
  const double rest = double(c.cached_blocks - L) * t.block_s + double(c.evaluations - 1) * t.head_s +
                      double(c.cached_loads - L) * t.load_s;
  return base + rest / double(std::max(1, workers));
}

}  // namespace twla
