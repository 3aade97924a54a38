// tests/allocators/test_ila_amp_measure.cpp: the cached ILA-AMP measurement (suffix runs from the
// cached block inputs, shared first blocks, parallel workers) gives exactly the NLLs, tables and
// allocation of the naive full evaluation, on stories260K (the real model) with small settings.
#include <cmath>

#include "allocators/ila_amp_dp.h"
#include "allocators/ila_amp_measure.h"
#include "core/model_config.h"
#include "core/paths.h"
#include "core/tokenizer.h"
#include "eval/datasets.h"
#include "eval/perplexity.h"
#include "quantizers/act_quant.h"
#include "tests/allocators/bits_ops.h"
#include "tests/catch.h"

using namespace twla;

namespace {
using twla::test::BitsOps;
}  // namespace

TEST_CASE("ila-amp: the work list covers singles and non-baseline pairs once", "[allocators]") {
  auto jobs = ila_amp_jobs(32, {2, 4, 6, 8}, 8);
  CHECK(jobs.size() == 1 + 32 * 3 + 31 * 9);   // 376: the 375 evaluations of ALGORITHMS.md + base
  CHECK(jobs[0].kind == IlaAmpJob::kBase);
  for (const auto& j : jobs) {
    int changed = 0, first = 32;
    for (int b = 0; b < 32; ++b)
      if (j.bits[size_t(b)] != 8) ++changed, first = std::min(first, b);
    CHECK(changed == (j.kind == IlaAmpJob::kBase ? 0 : j.kind == IlaAmpJob::kSingle ? 1 : 2));
    if (j.kind != IlaAmpJob::kBase) CHECK(j.start == first);
  }
}

TEST_CASE("ila-amp: cached measurement == naive full evaluation on stories260K", "[allocators]") {
  const std::string dir = data_dir() + "/models/stories260K";
  Model m(dir);
  auto tok = load_tokenizer(dir);
  auto ids = sample_calibration(*tok, "c4", 3, 48, 1);
  NllEvaluator ev;
  ev.model = &m;
  ev.windows = make_windows(ids, 48, 3);
  ev.batch = 2;   // two chunks per block: the cached path must chunk as final_hidden does
  ev.ops = [](const std::vector<int>& bits) { return std::make_unique<BitsOps>(bits); };
  const std::vector<int> abits{2, 4, 8};
  const int L = m.n_blocks();
  auto jobs = ila_amp_jobs(L, abits, 8);
  REQUIRE(jobs.size() == size_t(1 + L * 2 + (L - 1) * 4));
  set_threads(2);   // the measurements run at one intra-op thread whatever the caller's setting
  auto naive = measure_naive(ev, jobs, 1);
  auto naive_par = measure_naive(ev, jobs, 2);
  auto cached = measure_cached(ev, jobs, 1);
  auto parallel = measure_cached(ev, jobs, 2);
  CHECK(get_threads() == 2);   // and the caller's setting comes back
  set_threads(1);
  REQUIRE(naive.size() == jobs.size());
  int differ = 0, differ_par = 0, differ_naive = 0;
  for (size_t j = 0; j < jobs.size(); ++j) {
    differ += naive[j] != cached[j];
    differ_par += naive[j] != parallel[j];
    differ_naive += naive[j] != naive_par[j];
    CHECK(std::isfinite(naive[j]));
  }
  CHECK(differ == 0);
  CHECK(differ_par == 0);
  CHECK(differ_naive == 0);
  // The measurements mean something: 2-bit blocks cost more than 4-bit ones, which cost more
  // than nothing, somewhere in the model.
  IlaAmpTables t = ila_amp_tables(L, abits, 8, jobs, naive);
  double d2 = 0, d4 = 0;
  for (int i = 0; i < L; ++i) d2 += t.delta1[size_t(i)][0], d4 += t.delta1[size_t(i)][1];
  CHECK(d2 > d4);
  CHECK(d2 > 0);
  for (int i = 0; i < L; ++i) CHECK(t.delta1[size_t(i)][2] == 0.0);
  // Same tables, same allocation, for every budget.
  IlaAmpTables tc = ila_amp_tables(L, abits, 8, jobs, parallel);
  Table3 k = ila_amp_interaction(t.delta1, t.pair_nll, t.base_nll);
  Table3 kc = ila_amp_interaction(tc.delta1, tc.pair_nll, tc.base_nll);
  for (double avg : {2.0, 3.0, 4.0, 5.2, 8.0}) {
    const int budget = ila_amp_budget(avg, L);
    DpResult a = ila_amp_dp(t.delta1, k, abits, budget, 0.5);
    DpResult b = ila_amp_dp(tc.delta1, kc, abits, budget, 0.5);
    CAPTURE(avg);
    CHECK(a.bits == b.bits);
    CHECK(a.best_val == b.best_val);
  }
  // The base evaluation is the run's evaluation path (final_hidden + scoring), all blocks at 8 bits.
  CHECK(naive[0] == full_nll(ev, std::vector<int>(size_t(L), 8)));
  // A wrong job (a pair's bits swapped) is noticed: the check above can fail.
  CHECK(naive[size_t(1 + 2 * L)] != full_nll(ev, jobs.back().bits));
}
