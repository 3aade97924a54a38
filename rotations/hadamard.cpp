// rotations/hadamard.cpp: Hadamard constructions (Sylvester, Paley I/II over GF(p^k), Williamson
// and Goethals-Seidel from stored rows), the FWHT, and plans for x -> x H_n D / sqrt(n). See hadamard.h.
#include "rotations/hadamard.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>

#include <cmath>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <set>

#include "core/error.h"
#include "rotations/williamson.h"

namespace twla {

namespace {

// Largest small factor m we build and multiply densely (online cost O(n * m) per token).
constexpr int64_t kMaxFactor = 2048;

bool is_pow2(int64_t n) { return n > 0 && (n & (n - 1)) == 0; }

// ---- GF(p^k): elements are integers 0..q-1, the base-p digits are polynomial coefficients. ----
class FiniteField {
 public:
  FiniteField(int64_t p, int k) : p_(p), k_(k), q_(1) {
    for (int i = 0; i < k; ++i) q_ *= p;
    if (k_ > 1) find_irreducible();
  }
  int64_t q() const { return q_; }
  int64_t sub(int64_t a, int64_t b) const {
    if (k_ == 1) return ((a - b) % p_ + p_) % p_;
    int64_t r = 0, pw = 1;
    for (int i = 0; i < k_; ++i) {
      int64_t d = ((a % p_) - (b % p_) + p_) % p_;
      r += d * pw;
      pw *= p_;
      a /= p_;
      b /= p_;
    }
    return r;
  }
  int64_t mul(int64_t a, int64_t b) const {
    if (k_ == 1) return (a * b) % p_;
    std::vector<int64_t> x = digits(a), y = digits(b), z(size_t(2 * k_ - 1), 0);
    for (int i = 0; i < k_; ++i)
      for (int j = 0; j < k_; ++j) z[size_t(i + j)] = (z[size_t(i + j)] + x[size_t(i)] * y[size_t(j)]) % p_;
    reduce(z, f_);
    int64_t r = 0, pw = 1;
    for (int i = 0; i < k_; ++i) {
      r += z[size_t(i)] * pw;
      pw *= p_;
    }
    return r;
  }
  // chi(a): 0, +1 (nonzero square) or -1.
  std::vector<int> quadratic_character() const {
    std::vector<int> chi(size_t(q_), -1);
    chi[0] = 0;
    for (int64_t x = 1; x < q_; ++x) chi[size_t(mul(x, x))] = 1;
    return chi;
  }

 private:
  std::vector<int64_t> digits(int64_t a) const {
    std::vector<int64_t> d(static_cast<size_t>(k_));
    for (int i = 0; i < k_; ++i) {
      d[size_t(i)] = a % p_;
      a /= p_;
    }
    return d;
  }
  // z <- z mod g (g monic, coefficients low to high); z keeps its length, high part zeroed.
  void reduce(std::vector<int64_t>& z, const std::vector<int64_t>& g) const {
    const int dg = int(g.size()) - 1;
    for (int i = int(z.size()) - 1; i >= dg; --i) {
      int64_t c = z[size_t(i)] % p_;
      if (c == 0) continue;
      for (int j = 0; j <= dg; ++j)
        z[size_t(i - dg + j)] = ((z[size_t(i - dg + j)] - c * g[size_t(j)]) % p_ + p_) % p_;
    }
  }
  // All monic polynomials of degree d, enumerated by their low coefficients.
  std::vector<int64_t> monic(int d, int64_t idx) const {
    std::vector<int64_t> g(size_t(d + 1));
    for (int i = 0; i < d; ++i) {
      g[size_t(i)] = idx % p_;
      idx /= p_;
    }
    g[size_t(d)] = 1;
    return g;
  }
  void find_irreducible() {
    int64_t n_f = q_;  // monic degree-k polynomials
    for (int64_t fi = 0; fi < n_f; ++fi) {
      std::vector<int64_t> f = monic(k_, fi);
      bool irreducible = true;
      for (int d = 1; d <= k_ / 2 && irreducible; ++d) {
        int64_t n_g = 1;
        for (int i = 0; i < d; ++i) n_g *= p_;
        for (int64_t gi = 0; gi < n_g && irreducible; ++gi) {
          std::vector<int64_t> z = f;
          reduce(z, monic(d, gi));
          bool zero = true;
          for (int64_t c : z) zero = zero && c % p_ == 0;
          irreducible = !zero;
        }
      }
      if (irreducible) {
        f_ = f;
        return;
      }
    }
    TWLA_ASSERT(false, "no irreducible polynomial of degree ", k_, " over GF(", p_, ")");
  }
  int64_t p_;
  int k_;
  int64_t q_;
  std::vector<int64_t> f_;
};

// Jacobsthal matrix Q[a][b] = chi(a - b) over GF(q).
std::vector<int> jacobsthal(int64_t q) {
  int64_t p = 0;
  int k = 0;
  TWLA_ASSERT(prime_power(q, &p, &k));
  FiniteField F(p, k);
  std::vector<int> chi = F.quadratic_character(), J(size_t(q * q));
  for (int64_t a = 0; a < q; ++a)
    for (int64_t b = 0; b < q; ++b) J[size_t(a * q + b)] = chi[size_t(F.sub(a, b))];
  return J;
}

// Paley I: q = 3 mod 4, order q + 1. H = I + S, S = [[0, 1^T], [-1, Q]].
Tensor paley1(int64_t q) {
  const int64_t n = q + 1;
  std::vector<int> J = jacobsthal(q);
  Tensor H = at::zeros({n, n}, at::kDouble);
  auto h = H.accessor<double, 2>();
  for (int64_t j = 1; j < n; ++j) {
    h[0][j] = 1;
    h[j][0] = -1;
  }
  for (int64_t a = 0; a < q; ++a)
    for (int64_t b = 0; b < q; ++b) h[a + 1][b + 1] = J[size_t(a * q + b)];
  for (int64_t i = 0; i < n; ++i) h[i][i] += 1;
  return H;
}

// Paley II: q = 1 mod 4, order 2(q + 1). C = [[0, 1^T], [1, Q]] (symmetric conference matrix);
// H = C (x) [[1, 1], [1, -1]] + I (x) [[1, -1], [-1, -1]].
Tensor paley2(int64_t q) {
  const int64_t c = q + 1;
  std::vector<int> J = jacobsthal(q);
  Tensor C = at::zeros({c, c}, at::kDouble);
  auto cc = C.accessor<double, 2>();
  for (int64_t j = 1; j < c; ++j) cc[0][j] = cc[j][0] = 1;
  for (int64_t a = 0; a < q; ++a)
    for (int64_t b = 0; b < q; ++b) cc[a + 1][b + 1] = J[size_t(a * q + b)];
  Tensor P = at::tensor({1.0, 1.0, 1.0, -1.0}, at::kDouble).view({2, 2});
  Tensor D = at::tensor({1.0, -1.0, -1.0, -1.0}, at::kDouble).view({2, 2});
  return at::kron(C, P) + at::kron(at::eye(c, at::kDouble), D);
}

bool has_four_circulant(int64_t n) {
  for (int64_t w : stored_circulant_orders())
    if (w == n) return true;
  return false;
}

// A base construction (no Kronecker step) for order m: "sylvester", "paley1(q)", "paley2(q)",
// "williamson(n)" / "goethals-seidel(n)" (m = 4n, n odd, stored rows) or "". Paley first: it needs
// no stored rows.
std::string base_construction(int64_t m, int64_t* q_out = nullptr) {
  if (is_pow2(m)) return "sylvester";
  if (m % 4 != 0) return "";
  int64_t p = 0;
  int k = 0;
  if (prime_power(m - 1, &p, &k) && (m - 1) % 4 == 3) {
    if (q_out) *q_out = m - 1;
    return "paley1(" + std::to_string(m - 1) + ")";
  }
  if (prime_power(m / 2 - 1, &p, &k) && (m / 2 - 1) % 4 == 1) {
    if (q_out) *q_out = m / 2 - 1;
    return "paley2(" + std::to_string(m / 2 - 1) + ")";
  }
  if ((m / 4) % 2 == 1 && has_four_circulant(m / 4)) {
    if (q_out) *q_out = m / 4;
    return circulant_construction(stored_circulant_rows(m / 4));
  }
  return "";
}

Tensor base_matrix(int64_t m) {
  int64_t q = 0;
  std::string c = base_construction(m, &q);
  if (c == "sylvester") return sylvester_ref(m);
  if (c.rfind("paley1", 0) == 0) return paley1(q);
  if (c.rfind("paley2", 0) == 0) return paley2(q);
  if (c.rfind("williamson", 0) == 0 || c.rfind("goethals-seidel", 0) == 0) {
    std::vector<int> h = four_circulant_hadamard(stored_circulant_rows(q));
    return at::tensor(std::vector<double>(h.begin(), h.end()), at::kDouble).view({m, m});
  }
  return Tensor();
}

// Smallest m (a base construction) with n / m a power of two, or 0.
int64_t small_factor(int64_t n) {
  if (n <= 0) return 0;
  int64_t odd = n;
  while (odd % 2 == 0) odd /= 2;
  for (int64_t m = odd; m <= std::min(n, kMaxFactor); m *= 2)
    if (!base_construction(m).empty()) return m;
  return 0;
}

// One row, in place. The first three stages as a radix-8 butterfly on registers, then two stages
// per pass (radix 4), so each pass over the row (in L1) does twice the work; the j loops are
// contiguous and vectorize. Same additions in the same order as the radix-2 definition.
template <class T>
void fwht_row(T* x, int64_t n) {
  int64_t h = 1;
  if (n >= 8) {
    for (int64_t i = 0; i < n; i += 8) {
      T* p = x + i;
      const T b0 = p[0] + p[1], b1 = p[0] - p[1], b2 = p[2] + p[3], b3 = p[2] - p[3];
      const T b4 = p[4] + p[5], b5 = p[4] - p[5], b6 = p[6] + p[7], b7 = p[6] - p[7];
      const T c0 = b0 + b2, c2 = b0 - b2, c1 = b1 + b3, c3 = b1 - b3;
      const T c4 = b4 + b6, c6 = b4 - b6, c5 = b5 + b7, c7 = b5 - b7;
      p[0] = c0 + c4, p[4] = c0 - c4, p[1] = c1 + c5, p[5] = c1 - c5;
      p[2] = c2 + c6, p[6] = c2 - c6, p[3] = c3 + c7, p[7] = c3 - c7;
    }
    h = 8;
  }
  for (; 4 * h <= n; h *= 4)
    for (int64_t i = 0; i < n; i += 4 * h) {
      T *a = x + i, *b = a + h, *c = b + h, *d = c + h;
      for (int64_t j = 0; j < h; ++j) {
        const T s0 = a[j] + b[j], s1 = a[j] - b[j], s2 = c[j] + d[j], s3 = c[j] - d[j];
        a[j] = s0 + s2, c[j] = s0 - s2, b[j] = s1 + s3, d[j] = s1 - s3;
      }
    }
  for (; h < n; h *= 2)
    for (int64_t i = 0; i < n; i += 2 * h) {
      T *a = x + i, *b = a + h;
      for (int64_t j = 0; j < h; ++j) {
        const T u = a[j], v = b[j];
        a[j] = u + v, b[j] = u - v;
      }
    }
}

template <class T>
void fwht_serial(T* x, int64_t rows, int64_t n) {
  for (int64_t r = 0; r < rows; ++r) fwht_row(x + r * n, n);
}

template <class T>
void fwht_parallel(T* x, int64_t rows, int64_t n) {
  TWLA_ASSERT(is_pow2(n), n);
  const int64_t grain = std::max<int64_t>(1, (int64_t(1) << 15) / n);
  at::parallel_for(0, rows, grain, [&](int64_t b, int64_t e) { fwht_serial(x + b * n, e - b, n); });
}

void warn_fallback_once(int64_t n) {
  static std::mutex mu;
  static std::set<int64_t> warned;
  std::lock_guard<std::mutex> lock(mu);
  if (!warned.insert(n).second) return;
  std::cerr << "twla: warning: rotation hadamard: no Hadamard construction (Sylvester, Paley I/II, "
               "four circulants, Kronecker) for order "
            << n << "; using a seeded random orthogonal matrix (QR of a Gaussian) for this size\n";
}

}  // namespace

bool prime_power(int64_t q, int64_t* p_out, int* k_out) {
  if (q < 2) return false;
  int64_t p = 0;
  for (int64_t d = 2; d * d <= q; ++d)
    if (q % d == 0) {
      p = d;
      break;
    }
  if (p == 0) p = q;
  int k = 0;
  int64_t r = q;
  while (r % p == 0) {
    r /= p;
    ++k;
  }
  if (r != 1) return false;
  if (p_out) *p_out = p;
  if (k_out) *k_out = k;
  return true;
}

Tensor sylvester_ref(int64_t n) {
  TWLA_ASSERT(is_pow2(n), n);
  Tensor H = at::empty({n, n}, at::kDouble);
  auto h = H.accessor<double, 2>();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) h[i][j] = (__builtin_popcountll(uint64_t(i & j)) & 1) ? -1.0 : 1.0;
  return H;
}

std::string hadamard_construction(int64_t n) {
  std::string c = base_construction(n);
  if (!c.empty()) return c;
  int64_t m = small_factor(n);
  if (m == 0) return "";
  return "kron(" + base_construction(m) + ",2^" + std::to_string(int64_t(std::log2(double(n / m)))) + ")";
}

Tensor hadamard_matrix(int64_t n) {
  Tensor H = base_matrix(n);
  if (H.defined()) return H;
  int64_t m = small_factor(n);
  if (m == 0) return Tensor();
  return at::kron(base_matrix(m), sylvester_ref(n / m));
}

void fwht_rows(float* data, int64_t rows, int64_t n) { fwht_parallel(data, rows, n); }
void fwht_rows(double* data, int64_t rows, int64_t n) { fwht_parallel(data, rows, n); }

std::shared_ptr<const HadamardPlan> make_hadamard_plan(int64_t n, uint64_t seed) {
  TWLA_CHECK(n >= 1, "rotation hadamard: size ", n, " must be positive");
  auto p = std::make_shared<HadamardPlan>();
  p->n = n;
  int64_t m = small_factor(n);
  if (m == 0) {
    warn_fallback_once(n);
    p->fallback = true;
    p->construction = "random-orthogonal";
    auto gen = at::make_generator<at::CPUGeneratorImpl>(seed * 1000003ULL + uint64_t(n));
    Tensor G = at::randn({n, n}, gen, at::TensorOptions().dtype(at::kDouble));
    auto qr = at::linalg_qr(G);
    Tensor Q = std::get<0>(qr), R = std::get<1>(qr);
    Tensor s = at::sign(R.diagonal());
    s = at::where(s == 0, at::ones_like(s), s);
    p->Q64 = (Q * s.unsqueeze(0)).contiguous();  // Haar-distributed, unique given G
    p->Q = p->Q64.to(at::kFloat);
    return p;
  }
  p->m = m;
  p->k2 = n / m;
  p->construction = base_construction(m);
  if (m > 1) {
    p->Hm_t64 = base_matrix(m).t().contiguous();
    p->Hm_t = p->Hm_t64.to(at::kFloat);
  }
  std::seed_seq ss{uint32_t(seed), uint32_t(seed >> 32), uint32_t(n), uint32_t(uint64_t(n) >> 32)};
  std::mt19937_64 eng(ss);
  p->signs64 = at::empty({n}, at::kDouble);
  double* s = p->signs64.data_ptr<double>();
  const double inv = 1.0 / std::sqrt(double(n));
  for (int64_t j = 0; j < n; ++j) s[j] = (eng() >> 63) ? -inv : inv;
  p->signs = p->signs64.to(at::kFloat);
  return p;
}

Tensor hadamard_apply(const HadamardPlan& p, const Tensor& x) {
  TWLA_CHECK(x.dim() >= 1 && x.size(-1) == p.n, "rotation hadamard: input ", describe(x),
             " does not end in the rotation size ", p.n);
  const auto dt = x.scalar_type();
  const bool f64 = dt == at::kDouble;
  if (p.fallback) {
    Tensor xx = f64 ? x : x.to(at::kFloat);
    return at::matmul(xx, f64 ? p.Q64 : p.Q).to(dt);
  }
  Tensor y = x.to(f64 ? at::kDouble : at::kFloat).contiguous().reshape({-1, p.n}).clone();
  const int64_t N = y.size(0);
  if (p.k2 > 1) {
    if (f64) fwht_rows(y.data_ptr<double>(), N * p.m, p.k2);
    else fwht_rows(y.data_ptr<float>(), N * p.m, p.k2);
  }
  if (p.m > 1) {
    // H_m^T over the m axis of [N, m, 2^k], as one GEMM [m, m] x [m, N * 2^k] (a broadcast bmm of
    // N small products is several times slower).
    Tensor t = y.view({N, p.m, p.k2}).permute({1, 0, 2}).reshape({p.m, N * p.k2});
    t = (f64 ? p.Hm_t64 : p.Hm_t).mm(t);
    y = t.view({p.m, N, p.k2}).permute({1, 0, 2}).contiguous().view({N, p.n});
  }
  y.mul_(f64 ? p.signs64 : p.signs);
  return y.view(x.sizes()).to(dt);
}

Tensor hadamard_dense(const HadamardPlan& p) {
  if (p.fallback) return p.Q64;
  Tensor H = p.m > 1 ? at::kron(p.Hm_t64.t().contiguous(), sylvester_ref(p.k2)) : sylvester_ref(p.n);
  return H * p.signs64.unsqueeze(0);
}

}  // namespace twla
