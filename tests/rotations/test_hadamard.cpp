// tests/rotations/test_hadamard.cpp: Hadamard constructions (H H^T = n I for every size we build),
// the FWHT against the dense Sylvester matrix, the fast x Q against the dense Q, orthogonality of Q
// for the model sizes (Llama-2 11008, Mistral 14336, ...), and the random-orthogonal fallback.
// The Williamson search itself: test_williamson.cpp.
#include <ATen/CPUGeneratorImpl.h>

#include <chrono>
#include <iostream>

#include "rotations/hadamard.h"
#include "tests/catch.h"

using namespace twla;

namespace {
Tensor randn(at::IntArrayRef shape, uint64_t seed, at::ScalarType dt = at::kFloat) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return at::randn(shape, gen, at::TensorOptions().dtype(dt));
}
}  // namespace

TEST_CASE("hadamard: constructed matrices satisfy H H^T = n I") {
  // Sylvester, Paley I (q = 3 mod 4: 11, 19, 27 = 3^3, 43, 59, 107, 139, 311, 343 = 7^3),
  // Paley II (q = 1 mod 4: 17, 25 = 5^2, 49 = 7^2, 53), Williamson (92, 172), Goethals-Seidel
  // (156), and Kronecker products with 2^k.
  for (int64_t n : {1, 2, 4, 8, 64, 12, 20, 24, 28, 36, 40, 44, 52, 60, 100, 108, 140, 160, 224,
                    312, 344, 352, 400, 688, 92, 172, 156, 172 * 4, 156 * 2}) {
    CAPTURE(n, hadamard_construction(n));
    Tensor H = hadamard_matrix(n);
    REQUIRE(H.defined());
    CHECK(H.sizes() == at::IntArrayRef({n, n}));
    CHECK(H.abs().eq(1).all().item<bool>());
    CHECK(max_abs(H.mm(H.t()) - n * at::eye(n, at::kDouble)) == 0.0f);
  }
  CHECK(hadamard_construction(172) == "williamson(43)");
  CHECK(hadamard_construction(92) == "williamson(23)");
  CHECK(hadamard_construction(344) == "paley1(343)");  // Paley wins where both exist
  CHECK(hadamard_construction(156) == "goethals-seidel(39)");
  CHECK(hadamard_construction(4992) == "kron(goethals-seidel(39),2^5)");
  // 188 = 4 * 47, 376: no Paley, no stored rows (no Williamson quadruple exists for 47).
  CHECK(!hadamard_matrix(188).defined());
  CHECK(hadamard_construction(376).empty());
  CHECK(hadamard_construction(11008) == "kron(williamson(43),2^6)");
  CHECK(hadamard_construction(22016) == "kron(williamson(43),2^7)");
  CHECK(hadamard_construction(14336) == "kron(paley1(27),2^9)");
  CHECK(hadamard_construction(13824) == "kron(paley1(107),2^7)");
  CHECK(hadamard_construction(5632) == "kron(paley1(43),2^7)");
  CHECK(hadamard_construction(12288) == "kron(paley1(11),2^10)");
  CHECK(hadamard_construction(25600) == "kron(paley2(49),2^8)");
}

TEST_CASE("hadamard: FWHT equals the dense Sylvester matrix") {
  for (int64_t n : {1, 2, 4, 16, 128, 1024}) {
    CAPTURE(n);
    Tensor x = randn({5, n}, 1, at::kDouble);
    Tensor y = x.clone();
    fwht_rows(y.data_ptr<double>(), 5, n);
    CHECK(max_abs_diff(y, x.mm(sylvester_ref(n))) < 1e-12 * n);
    Tensor xf = x.to(at::kFloat).contiguous(), yf = xf.clone();
    fwht_rows(yf.data_ptr<float>(), 5, n);
    CHECK(max_abs_diff(yf.to(at::kDouble), x.mm(sylvester_ref(n))) < 1e-5 * n);
  }
}

TEST_CASE("hadamard: the fast x Q equals the dense Q, which is orthogonal") {
  for (int64_t n : {1, 2, 64, 12, 48, 160, 224, 352, 400, 688, 156, 172, 92, 188, 344}) {
    CAPTURE(n);
    auto p = make_hadamard_plan(n, 7);
    CHECK(p->fallback == (n == 188));
    Tensor Q = hadamard_dense(*p);
    CHECK(max_abs(Q.mm(Q.t()) - at::eye(n, at::kDouble)) < 1e-12);
    Tensor x = randn({3, 4, n}, 2, at::kDouble);
    Tensor want = at::matmul(x, Q);
    CHECK(max_abs_diff(hadamard_apply(*p, x), want) < 1e-12);
    // f32: relative to libtorch's own f32 matmul error, at most twice (+ a floor).
    Tensor xf = x.to(at::kFloat);
    float e_fast = max_abs_diff(hadamard_apply(*p, xf).to(at::kDouble), want);
    float e_lib = max_abs_diff(at::matmul(xf, Q.to(at::kFloat)).to(at::kDouble), want);
    CAPTURE(e_fast, e_lib);
    CHECK(e_fast <= 2 * e_lib + 1e-6 * max_abs(want));
    CHECK(hadamard_apply(*p, xf).scalar_type() == at::kFloat);
  }
  // Same seed, same Q; another seed, other signs.
  CHECK(max_abs_diff(hadamard_dense(*make_hadamard_plan(64, 7)), hadamard_dense(*make_hadamard_plan(64, 7))) == 0);
  CHECK(max_abs_diff(hadamard_dense(*make_hadamard_plan(64, 7)), hadamard_dense(*make_hadamard_plan(64, 8))) > 0);
}

TEST_CASE("hadamard: model sizes are orthogonal transforms and fast") {
  for (int64_t n : {4096, 4992, 5632, 11008, 12288, 13824, 14336, 25600}) {
    CAPTURE(n);
    auto p = make_hadamard_plan(n, 0);
    CHECK(!p->fallback);
    Tensor x = randn({64, n}, 3);
    auto t0 = std::chrono::steady_clock::now();
    Tensor y = hadamard_apply(*p, x);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    // Orthogonal: norms and inner products are kept.
    Tensor g0 = x.to(at::kDouble).mm(x.to(at::kDouble).t());
    Tensor g1 = y.to(at::kDouble).mm(y.to(at::kDouble).t());
    CHECK(max_abs_diff(g0, g1) < 1e-4 * max_abs(g0));
    std::cout << "hadamard n=" << n << " (" << p->construction << " m=" << p->m
              << "): 64 rows in " << s * 1e3 << " ms\n";
  }
}
