// tests/rotations/test_williamson.cpp: the four-circulant orbit searches (rerun and compared with
// the stored rows), the Williamson and Goethals-Seidel arrays (H H^T = 4n I), the subgroups
// searched, and the plans of the sizes they serve (172 * 2^k incl. Llama-2's 11008, 156 * 2^k)
// against their dense Q.
#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <ctime>

#include "rotations/hadamard.h"
#include "rotations/williamson.h"
#include "tests/catch.h"

using namespace twla;

namespace {
std::vector<int64_t> orders_of(const std::vector<std::vector<int64_t>>& groups) {
  std::vector<int64_t> out;
  for (const auto& g : groups) out.push_back(int64_t(g.size()));
  return out;
}
}  // namespace

TEST_CASE("four circulants: subgroups of Z_n^* with and without -1, largest first") {
  // Z_43^* is cyclic of order 42: one subgroup of each order; -1 is in those of even order.
  CHECK(orders_of(unit_subgroups(43, true)) == std::vector<int64_t>{42, 14, 6, 2});
  CHECK(orders_of(unit_subgroups(43, false)) == std::vector<int64_t>{21, 7, 3, 1});
  // Z_39^* = C12 x C2; -1 is not a square mod 3, so no cyclic C4 holds it; V4 does.
  CHECK(orders_of(unit_subgroups(39, true)) == std::vector<int64_t>{24, 12, 8, 6, 4, 2});
  for (bool with : {true, false})
    for (const auto& G : unit_subgroups(39, with)) {
      CHECK(std::count(G.begin(), G.end(), 38) == (with ? 1 : 0));
      for (int64_t a : G)
        for (int64_t b : G) CHECK(std::count(G.begin(), G.end(), a * b % 39) == 1);  // closed
    }
}

TEST_CASE("four circulants: the searches reproduce the stored rows, fast") {
  REQUIRE(stored_circulant_orders() == std::vector<int64_t>{23, 39, 43});
  for (int64_t n : stored_circulant_orders()) {
    const CirculantRows stored = stored_circulant_rows(n);
    CAPTURE(n, circulant_construction(stored));
    const double c0 = double(std::clock()) / CLOCKS_PER_SEC;
    const CirculantRows found = stored.kind == FourCirculant::kWilliamson ? find_williamson(n)
                                                                            : find_goethals_seidel(n);
    const double cpu = double(std::clock()) / CLOCKS_PER_SEC - c0;
    REQUIRE(found.n == n);
    CHECK(found.kind == stored.kind);
    CHECK(is_four_circulant(found));
    CHECK(sign_string(found.a) == sign_string(stored.a));
    CHECK(sign_string(found.b) == sign_string(stored.b));
    CHECK(sign_string(found.c) == sign_string(stored.c));
    CHECK(sign_string(found.d) == sign_string(stored.d));
    CHECK(found.subgroup_order == stored.subgroup_order);
    CHECK(cpu < 2.0);  // CPU milliseconds here: fast enough to run at plan time
  }
  CHECK(circulant_construction(stored_circulant_rows(43)) == "williamson(43)");
  CHECK(stored_circulant_rows(43).subgroup_order == 6);  // the order-6 subgroup: 7 + 1 orbits
  CHECK(circulant_construction(stored_circulant_rows(39)) == "goethals-seidel(39)");
  CHECK(stored_circulant_rows(41).n == 0);
}

TEST_CASE("four circulants: no Williamson quadruple for 39 within the orbit bound") {
  // Exhaustive over sequences constant on the orbits of |G| = 24 .. 4; why 156 is Goethals-Seidel.
  CHECK(find_williamson(39).n == 0);
}

TEST_CASE("four circulants: both arrays are Hadamard; broken rows are caught") {
  for (int64_t n : stored_circulant_orders()) {
    const CirculantRows w = stored_circulant_rows(n);
    CAPTURE(n, circulant_construction(w));
    const int64_t N = 4 * n;
    std::vector<int> H = four_circulant_hadamard(w);
    REQUIRE(int64_t(H.size()) == N * N);
    int64_t bad = 0;
    for (int64_t i = 0; i < N; ++i)
      for (int64_t j = 0; j < N; ++j) {
        int64_t dot = 0;
        for (int64_t k = 0; k < N; ++k) dot += H[size_t(i * N + k)] * H[size_t(j * N + k)];
        bad += dot != (i == j ? N : 0);
      }
    CHECK(bad == 0);
    CirculantRows broken = w;  // one flip moves the autocorrelation sum off 0 at some shift
    broken.c[1] = -broken.c[1];
    CHECK(!is_four_circulant(broken));
    if (w.kind == FourCirculant::kWilliamson) {
      CirculantRows both = w;  // a symmetric pair of flips keeps symmetry, breaks the sum
      both.c[1] = -both.c[1];
      both.c[size_t(n - 1)] = -both.c[size_t(n - 1)];
      CHECK(!is_four_circulant(both));
    }
  }
  // The Goethals-Seidel rows are not symmetric: read as Williamson they are rejected.
  CirculantRows gs = stored_circulant_rows(39);
  gs.kind = FourCirculant::kWilliamson;
  CHECK(!is_four_circulant(gs));
  CHECK(parse_signs("+-+") == std::vector<int>{1, -1, 1});
}

TEST_CASE("four circulants: plans of 172 and 156 * 2^k equal their dense Q, which is orthogonal") {
  for (int64_t n : {172, 172 * 8, 5504, 156, 4992}) {
    CAPTURE(n);
    auto p = make_hadamard_plan(n, 3);
    CHECK(!p->fallback);
    CHECK(p->m == (n % 43 == 0 ? 172 : 156));
    Tensor Q = hadamard_dense(*p);  // [n, n] f64
    // Sampled rows of Q Q^T against I (the full product is n^3).
    Tensor idx = at::arange(0, n, std::max<int64_t>(1, n / 48), at::kLong);
    Tensor G = Q.index_select(0, idx).mm(Q.t());
    Tensor I = at::eye(n, at::kDouble).index_select(0, idx);
    CHECK(max_abs_diff(G, I) < 1e-10);
    auto gen = at::make_generator<at::CPUGeneratorImpl>(5);
    Tensor x = at::randn({3, n}, gen, at::TensorOptions().dtype(at::kDouble));
    Tensor want = x.mm(Q);
    CHECK(max_abs_diff(hadamard_apply(*p, x), want) < 1e-12);
    Tensor xf = x.to(at::kFloat);
    float e_fast = max_abs_diff(hadamard_apply(*p, xf).to(at::kDouble), want);
    float e_lib = max_abs_diff(at::matmul(xf, Q.to(at::kFloat)).to(at::kDouble), want);
    CAPTURE(e_fast, e_lib);
    CHECK(e_fast <= 2 * e_lib + 1e-6 * max_abs(want));
  }
  // Llama-2-7B's MLP width: the Williamson factor, not the fallback.
  auto p = make_hadamard_plan(11008, 0);
  CHECK(!p->fallback);
  CHECK(p->m == 172);
  CHECK(p->construction == "williamson(43)");
  CHECK(make_hadamard_plan(4992, 0)->construction == "goethals-seidel(39)");
}
