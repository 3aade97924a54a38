// tests/allocators/test_lac.cpp: the LAC clip search against every lac_search_* golden case
// (experiments/golden_check_alloc.cpp), its default grid, and against a slow per-p loop written
// as the reference runs it.
#include <cmath>

#include "allocators/lac.h"
#include "quantizers/act_quant.h"
#include "tests/catch.h"
#include "tests/support/golden_cases.h"

using namespace twla;

TEST_CASE("lac: every lac_search_* golden case (grid, y, sse, choice, count)", "[allocators]") {
  CHECK(test::check_golden_cases("lac_search_") >= 1);   // golden_check_alloc.cpp check_lac
}

TEST_CASE("lac: the default grid is the reference's numpy.arange(0.5, 1.0, 0.005), 1.0 excluded", "[allocators]") {
  auto g = test::load_golden("lac_search_64to32");
  Tensor want = g.f64("p_list");
  const auto grid = lac_grid();
  REQUIRE(int64_t(grid.size()) == want.numel());
  for (size_t i = 0; i < grid.size(); ++i) CHECK(grid[i] == want[int64_t(i)].item<double>());
  CHECK(grid.back() < 1.0);
}

TEST_CASE("lac: the vectorized search equals a per-p loop (more rows than a chunk)", "[allocators]") {
  at::manual_seed(3);
  Tensor W = at::randn({24, 48});
  Tensor x = at::randn({2, 2300, 48}) * (at::rand({48}) * 3 + 0.1);   // 4600 rows: two chunks
  const auto grid = lac_grid(0.6, 0.01, 37);
  for (int bits : {3, 4}) {
    LacSearch s(bits, grid);
    s.add(x, W);
    // The reference: per 4096-row chunk, per p, sse += float32 sum, in a double.
    Tensor rows = x.reshape({-1, 48});
    std::vector<double> sse(grid.size(), 0.0);
    for (int64_t r0 = 0; r0 < rows.size(0); r0 += 4096) {
      Tensor xc = rows.narrow(0, r0, std::min<int64_t>(4096, rows.size(0) - r0));
      Tensor y = at::matmul(xc, W.t());
      for (size_t p = 0; p < grid.size(); ++p) {
        AffineSpec spec;
        spec.bits = bits;
        spec.clip = grid[p];
        sse[p] += (at::matmul(act_fake_quant(xc, spec), W.t()) - y).pow(2).sum().item<float>();
      }
    }
    double worst = 0;
    size_t argmin = 0;
    for (size_t p = 0; p < grid.size(); ++p) {
      worst = std::max(worst, std::abs(s.sse()[p] - sse[p]) / sse[p]);
      if (sse[p] < sse[argmin]) argmin = p;
    }
    CAPTURE(bits, worst);
    CHECK(worst <= 1e-5);
    CHECK(s.best(0.9).index == int(argmin));
    CHECK(s.count() == rows.size(0) * 24);
  }
}

TEST_CASE("lac: no finite MSE falls back to the default clip", "[allocators]") {
  LacSearch s(4, lac_grid());
  LacChoice c = s.best(0.9);   // nothing added: 0 / 0
  CHECK(c.index == -1);
  CHECK(c.clip == 0.9);
  CHECK_THROWS_WITH(LacSearch(16, lac_grid()), Catch::Matchers::Contains("only quantized widths"));
}
