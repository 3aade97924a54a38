// tests/allocators/test_ila_amp_farm.cpp: ILA-AMP's work list split into shards (issue 6): every
// job in one shard, the cached search's groups whole, balanced under the cost model; and on
// stories260K the merged shard NLLs == the in-process cached NLLs == the naive ones, bit for bit.
#include <algorithm>
#include <map>
#include <numeric>

#include "allocators/ila_amp_cost.h"
#include "allocators/ila_amp_farm.h"
#include "core/error.h"
#include "core/paths.h"
#include "core/tokenizer.h"
#include "eval/datasets.h"
#include "eval/perplexity.h"
#include "quantizers/act_quant.h"
#include "tests/allocators/bits_ops.h"
#include "tests/catch.h"
#include "tests/support/util.h"

using namespace twla;

namespace {
using twla::test::BitsOps;

using twla::test::error_of;
}  // namespace

TEST_CASE("ila-amp farm: shards cover the work list once, keep groups whole, and balance", "[allocators]") {
  for (int L : {5, 8, 32}) {
    const auto jobs = ila_amp_jobs(L, {2, 4, 6, 8}, 8);
    const int64_t cached = ila_amp_cost(jobs, L).cached_blocks;
    for (int n : {1, 2, 4, 8, 16, 32}) {
      if (n > 3 * L) continue;
      CAPTURE(L, n);
      const IlaAmpShardPlan p = ila_amp_shard_plan(jobs, L, n, "test");
      CHECK(p.groups == 3 * L);
      REQUIRE(p.jobs.size() == size_t(n));
      // Every job but the base in exactly one shard, listed there.
      std::vector<int> seen(jobs.size(), 0);
      for (int k = 0; k < n; ++k) {
        CHECK(std::is_sorted(p.jobs[size_t(k)].begin(), p.jobs[size_t(k)].end()));
        for (int j : p.jobs[size_t(k)]) {
          ++seen[size_t(j)];
          CHECK(p.shard_of[size_t(j)] == k);
        }
      }
      CHECK(seen[0] == 0);
      CHECK(p.shard_of[0] == -1);
      CHECK(std::count(seen.begin() + 1, seen.end(), 1) == int64_t(jobs.size()) - 1);
      // Groups (start block, its candidate) stay in one shard.
      std::map<std::pair<int, int>, int> group_shard;
      int64_t longest = 0;
      for (size_t j = 1; j < jobs.size(); ++j) {
        const auto key = std::make_pair(jobs[j].start, jobs[j].kind == IlaAmpJob::kSingle ? jobs[j].kb : jobs[j].kbp);
        auto it = group_shard.emplace(key, p.shard_of[j]).first;
        CHECK(it->second == p.shard_of[j]);
      }
      // The shards' block forwards: the cached search's, plus one baseline pass per extra shard.
      const int64_t total = std::accumulate(p.blocks.begin(), p.blocks.end(), int64_t(0));
      CHECK(total == cached + int64_t(n - 1) * L);
      CHECK(std::accumulate(p.job_blocks.begin(), p.job_blocks.end(), int64_t(0)) == cached);
      for (int k = 0; k < n; ++k) {
        int64_t b = L;
        for (int j : p.jobs[size_t(k)]) b += p.job_blocks[size_t(j)];
        CHECK(b == p.blocks[size_t(k)]);
      }
      // LPT's bound: the largest shard is at most the mean plus the longest group (1 + 4 (L-1)
      // block forwards: the single and 3 pairs starting at block 0).
      longest = 1 + 4 * int64_t(L - 1);
      const double mean = double(total) / n;
      const int64_t mx = *std::max_element(p.blocks.begin(), p.blocks.end());
      CHECK(double(mx) <= mean + double(longest));
      // Llama-7B's shape (32 blocks, 3 non-baseline widths): within 10% of the mean up to 32 shards.
      if (L == 32) CHECK(double(mx) <= 1.10 * mean);
      // Deterministic: the same list gives the same plan.
      CHECK(ila_amp_shard_plan(jobs, L, n, "test").jobs == p.jobs);
    }
  }
  const auto jobs = ila_amp_jobs(5, {2, 4, 8}, 8);
  CHECK(error_of([&] { ila_amp_shard_plan(jobs, 5, 11, "--shard k/n with n"); })
            .find("--shard k/n with n=11") != std::string::npos);
  CHECK(error_of([&] { ila_amp_shard_plan(jobs, 5, 0, "shards"); }).find("give 1..10 shards") != std::string::npos);
}

TEST_CASE("ila-amp farm: merged shards == cached == naive on stories260K", "[allocators]") {
  const std::string dir = data_dir() + "/models/stories260K";
  Model m(dir);
  auto tok = load_tokenizer(dir);
  NllEvaluator ev;
  ev.model = &m;
  ev.windows = make_windows(sample_calibration(*tok, "c4", 3, 40, 1), 40, 3);
  ev.batch = 2;
  ev.ops = [](const std::vector<int>& bits) { return std::make_unique<BitsOps>(bits); };
  const std::vector<int> abits{2, 4, 8};
  const int L = m.n_blocks();
  const auto jobs = ila_amp_jobs(L, abits, 8);
  const auto naive = measure_naive(ev, jobs, 1);
  const auto cached = measure_cached(ev, jobs, 2);
  for (int n : {2, 3}) {
    CAPTURE(n);
    const IlaAmpShardPlan plan = ila_amp_shard_plan(jobs, L, n, "test");
    std::vector<IlaAmpShardResult> parts;
    for (int k = n - 1; k >= 0; --k) parts.push_back(ila_amp_measure_shard(ev, jobs, plan, k, 1, "id"));
    const auto merged = ila_amp_merge_shards(parts, plan, jobs.size(), "id");
    REQUIRE(merged.size() == jobs.size());
    int differ_cached = 0, differ_naive = 0;
    for (size_t j = 0; j < jobs.size(); ++j) {
      differ_cached += merged[j] != cached[j];
      differ_naive += merged[j] != naive[j];
    }
    CHECK(differ_cached == 0);
    CHECK(differ_naive == 0);
    // Stale, missing, disagreeing shards are refused with the reason.
    CHECK(error_of([&] { ila_amp_merge_shards(parts, plan, jobs.size(), "other"); })
              .find("was measured for key id, not this run's other") != std::string::npos);
    auto missing = parts;
    missing.pop_back();
    CHECK(error_of([&] { ila_amp_merge_shards(missing, plan, jobs.size(), "id"); })
              .find("shard 1 of " + std::to_string(n) + " is missing") != std::string::npos);
    auto off = parts;
    off[0].base_nll += 1e-12;
    off[0].file = "/x/shard.json";
    CHECK(error_of([&] { ila_amp_merge_shards(off, plan, jobs.size(), "id"); })
              .find("'/x/shard.json': its base NLL") != std::string::npos);
    auto swapped = parts;
    std::swap(swapped[0].jobs, swapped[1].jobs);
    CHECK(error_of([&] { ila_amp_merge_shards(swapped, plan, jobs.size(), "id"); }).find("other job ids") !=
          std::string::npos);
  }
}
