// tests/allocators/test_ila_amp_dp.cpp: the ILA-AMP DP against every ila_amp_dp_* golden case
// (through experiments/golden_check_alloc.cpp) and against a brute force over
// every bit vector; the allocator plugins' bad settings give one-line errors naming the field.
#include <cmath>
#include <functional>
#include <random>

#include "allocators/allocator.h"
#include "allocators/ila_amp_dp.h"
#include "tests/catch.h"
#include "tests/support/golden_cases.h"

using namespace twla;

namespace {
// Every bit vector; the objective summed in the DP's order; ties to the reference's rule are not
// modelled, so callers compare the value (and the bits where the minimum is unique).
DpResult brute_force(const Table2& d1, const Table3& k, const std::vector<int>& abits, int budget,
                     double beta) {
  const int L = int(d1.size()), B = int(abits.size());
  DpResult best;
  best.best_val = INFINITY;
  std::vector<int> kb(size_t(L), 0);
  std::function<void(int)> rec = [&](int i) {
    if (i == L) {
      int used = 0;
      double v = d1[0][size_t(kb[0])];
      for (int j = 0; j < L; ++j) used += abits[size_t(kb[size_t(j)])];
      for (int j = 1; j < L; ++j)
        v = v + d1[size_t(j)][size_t(kb[size_t(j)])] + beta * k[size_t(j - 1)][size_t(kb[size_t(j - 1)])][size_t(kb[size_t(j)])];
      if (used <= budget && v < best.best_val) {
        best.best_val = v;
        best.used_budget = used;
        best.bits.clear();
        for (int j = 0; j < L; ++j) best.bits.push_back(abits[size_t(kb[size_t(j)])]);
      }
      return;
    }
    for (int b = 0; b < B; ++b) kb[size_t(i)] = b, rec(i + 1);
  };
  rec(0);
  return best;
}
}  // namespace

TEST_CASE("ila-amp DP: every ila_amp_dp_* golden case exactly", "[allocators]") {
  // The interaction table k; per budget/beta pair the budget, bits, used budget, best value and
  // feasibility (the infeasible quirk); the all-zero tie probe (golden_check_alloc.cpp).
  CHECK(test::check_golden_cases("ila_amp_dp_") >= 1);
}

TEST_CASE("ila-amp DP: budget rounds half to even, as Python's round", "[allocators]") {
  CHECK(ila_amp_budget(3.75, 6) == 22);   // 22.5
  CHECK(ila_amp_budget(3.25, 6) == 20);   // 19.5
  CHECK(ila_amp_budget(4.0, 32) == 128);
  CHECK(ila_amp_budget(4.1, 5) == 20);    // 20.5 (in binary just below) -> 20
}

TEST_CASE("ila-amp DP: optimal on random tables (brute force over every allocation)", "[allocators]") {
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> u(0.0, 1.0), s(-0.05, 0.05);
  const std::vector<int> abits{2, 4, 6, 8};
  for (int trial = 0; trial < 20; ++trial) {
    const int L = 2 + trial % 5;
    Table2 d1(static_cast<size_t>(L), std::vector<double>(4));
    Table3 k(static_cast<size_t>(L - 1), Table2(4, std::vector<double>(4, 0.0)));
    for (auto& row : d1)
      for (size_t b = 0; b < 4; ++b) row[b] = b == 3 ? 0.0 : u(rng) / double(1 + b);
    for (auto& m : k)
      for (size_t bp = 0; bp < 3; ++bp)
        for (size_t b = 0; b < 3; ++b) m[bp][b] = s(rng);
    const int budget = 2 * L + 2 * (trial % 7);
    const double beta = trial % 2 ? 0.5 : 1.0;
    CAPTURE(trial, L, budget, beta);
    DpResult dp = ila_amp_dp(d1, k, abits, budget, beta);
    DpResult bf = brute_force(d1, k, abits, budget, beta);
    REQUIRE(dp.feasible);
    CHECK(std::abs(dp.best_val - bf.best_val) <= 1e-12);
    CHECK(dp.bits == bf.bits);   // continuous random tables: the minimum is unique
    int used = 0;
    for (int b : dp.bits) used += b;
    CHECK(used == dp.used_budget);
    CHECK(used <= budget);
  }
}

namespace {
std::string error_of(const std::string& yaml, int n_blocks = 5, double avg = 4) {
  try {
    YAML::Node spec = YAML::Load(yaml);
    auto a = allocators().make(PluginSpec{spec["name"].as<std::string>(), spec["params"] ? spec["params"] : YAML::Node(YAML::NodeType::Map)},
                               "activations.allocator");
    AllocationContext ctx;   // never reached: every case fails before the data is needed
    AllocationRequest req{n_blocks, avg, 0.9, nullptr};
    a->allocate(req, nullptr);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("ila-amp: bad settings give one-line errors naming the field and a fix", "[allocators]") {
  std::string e = error_of("{name: ila-amp, params: {candidates: []}}");
  CHECK(e.find("activations.allocator.candidates is empty") != std::string::npos);
  e = error_of("{name: ila-amp, params: {candidates: [2, 4, 6], baseline: 8}}");
  CHECK(e.find("activations.allocator.baseline=8 is not one of the candidates [2, 4, 6]") != std::string::npos);
  e = error_of("{name: ila-amp}", 5, 1.0);   // budget 5 < 2 x 5
  CHECK(e.find("budget of 5 bits") != std::string::npos);
  CHECK(e.find("below the smallest candidate 2 x L = 10") != std::string::npos);
  e = error_of("{name: ila-amp, params: {budget: 9}}", 5, 4.0);
  CHECK(e.find("budget of 9 bits (budget") != std::string::npos);
  e = error_of("{name: ila-amp, params: {candidates: [2, 4, 4, 8]}}");
  CHECK(e.find("lists a width twice") != std::string::npos);
  e = error_of("{name: ila-amp, params: {allocation_data: wikitext}}");
  CHECK(e.find("activations.allocator.allocation_data='wikitext'") != std::string::npos);
  e = error_of("{name: ila-amp, params: {search: cahced}}");
  CHECK(e.find("did you mean 'cached'") != std::string::npos);
  e = error_of("{name: ila-amp, params: {lac: {grid_start: 0.9, grid_size: 100}}}");
  CHECK(e.find("activations.allocator.lac: grid_start=0.9") != std::string::npos);
  e = error_of("{name: ila-amp, params: {candiates: [2, 4]}}");
  CHECK(e.find("candidates") != std::string::npos);   // unknown key: did you mean
  e = error_of("{name: ila-amp}");   // valid settings, but no run to measure
  CHECK(e.find("needs a run context") != std::string::npos);
  e = error_of("{name: uniform, params: {clip: lca}}");
  CHECK(e.find("activations.allocator.clip='lca'") != std::string::npos);
  e = error_of("{name: uniform}", 5, 3.5);
  CHECK(e.find("activations.bits=3.5 is not a whole number") != std::string::npos);
  // The run checks the budget against the model's size before the weights are quantized.
  auto ila = allocators().make("ila-amp");
  CHECK_THROWS_WITH(ila->check(32, 1.5), Catch::Matchers::Contains("budget of 48 bits"));
  CHECK_NOTHROW(ila->check(32, 2.0));
  CHECK_THROWS_WITH(allocators().make("uniform")->check(32, 4.5),
                    Catch::Matchers::Contains("activations.bits=4.5"));
  for (const auto& m : {error_of("{name: ila-amp, params: {candidates: []}}"), error_of("{name: ila-amp}", 5, 1.0)})
    CHECK(m.find('\n') == std::string::npos);
}
