// tests/allocators/test_ila_amp_cost.cpp: the ILA-AMP cost model: the closed form equals the block
// forwards counted from the work list, and the predicted ratio behaves as derived (bounded by 2
// per worker, tending to 2 as L grows; eta > 0 lowers it).
#include "allocators/ila_amp_cost.h"
#include "tests/catch.h"

using namespace twla;

TEST_CASE("ila-amp cost: closed form == count from the work list", "[allocators]") {
  for (int L : {1, 2, 5, 16, 32}) {
    for (const std::vector<int>& abits : {std::vector<int>{2, 4, 6, 8}, std::vector<int>{4, 8},
                                          std::vector<int>{2, 3, 4, 5, 6, 8}}) {
      const int Bp = int(abits.size()) - 1;   // baseline 8 is one of them
      auto jobs = ila_amp_jobs(L, abits, 8);
      IlaAmpCost counted = ila_amp_cost(jobs, L), closed = ila_amp_cost_closed(L, Bp);
      CAPTURE(L, Bp);
      CHECK(counted.evaluations == closed.evaluations);
      CHECK(counted.naive_blocks == closed.naive_blocks);
      CHECK(counted.cached_blocks == closed.cached_blocks);
      CHECK(counted.naive_loads == closed.naive_loads);
      CHECK(counted.cached_loads == closed.cached_loads);
    }
  }
  // The table of docs/PERFORMANCE.md (B' = 3).
  CHECK(ila_amp_cost_closed(5, 3).cached_blocks == 140);
  CHECK(ila_amp_cost_closed(32, 3).naive_blocks == 12032);
  CHECK(ila_amp_cost_closed(32, 3).cached_blocks == 6080);
}

TEST_CASE("ila-amp cost: predicted ratio below 2 per worker, towards 2 with depth", "[allocators]") {
  IlaAmpUnitTimes blocks_only{0, 1e-3, 0}, with_head{2e-4, 1e-3, 8e-4};
  double prev = 0;
  for (int L : {2, 5, 16, 32, 80, 400}) {
    IlaAmpCost c = ila_amp_cost_closed(L, 3);
    const double r = ila_amp_naive_seconds(c, L, blocks_only) / ila_amp_cached_seconds(c, L, blocks_only, 1);
    CHECK(r == Approx(double(c.naive_blocks) / double(c.cached_blocks)));
    CHECK(r > prev);
    CHECK(r < 2.0);
    prev = r;
    const double rh = ila_amp_naive_seconds(c, L, with_head) / ila_amp_cached_seconds(c, L, with_head, 1);
    CHECK(rh < r);   // the heads are the same on both sides
    const double r4 = ila_amp_naive_seconds(c, L, with_head) / ila_amp_cached_seconds(c, L, with_head, 4);
    CHECK(r4 > 2.5 * rh);   // workers multiply, less the serial baseline pass
    CHECK(r4 < 4 * rh);
    IlaAmpUnitTimes with_load = with_head;
    with_load.load_s = 5e-4;   // materializing blocks: cached loads each once per group
    const double rl = ila_amp_naive_seconds(c, L, with_load) / ila_amp_cached_seconds(c, L, with_load, 1);
    if (L > 2) CHECK(rl > rh);
  }
  CHECK(prev > 1.99);
}
