// rotations/williamson.cpp: the orbit search for four circulants (Williamson, Goethals-Seidel),
// its stored results, and the two arrays. See williamson.h.
#include "rotations/williamson.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>
#include <unordered_map>

#include "core/error.h"

namespace twla {

namespace {

// Multiplicative closure of gens in Z_n (gens are units, so this is a group), sorted.
std::vector<int64_t> closure(int64_t n, const std::vector<int64_t>& gens) {
  std::set<int64_t> g{1 % n};
  std::vector<int64_t> todo{1 % n};
  while (!todo.empty()) {
    int64_t x = todo.back();
    todo.pop_back();
    for (int64_t s : gens) {
      int64_t y = x * s % n;
      if (g.insert(y).second) todo.push_back(y);
    }
  }
  return {g.begin(), g.end()};
}

// Orbits of Z_n under multiplication by G; orbit 0 is {0}; each orbit sorted, orbits by their
// smallest element. orbit_of[j] = index of j's orbit.
struct Orbits {
  std::vector<std::vector<int64_t>> sets;
  std::vector<int> orbit_of;
};
Orbits orbits_of(int64_t n, const std::vector<int64_t>& G) {
  Orbits o;
  o.orbit_of.assign(size_t(n), -1);
  for (int64_t x = 0; x < n; ++x) {
    if (o.orbit_of[size_t(x)] >= 0) continue;
    std::set<int64_t> orb;
    for (int64_t g : G) orb.insert(g * x % n);
    for (int64_t y : orb) o.orbit_of[size_t(y)] = int(o.sets.size());
    o.sets.emplace_back(orb.begin(), orb.end());
  }
  return o;
}

// The sequences constant on orbits that pass PSD(k) <= 4n: values (orbit 0 = {0} fixed to +1,
// since -x has the same PSD and PAF), PSD at one frequency per orbit and PAF at one nonzero
// shift per orbit (both constant on orbits, as the sequences are), flat: [m, r] and [m, r - 1].
struct Candidates {
  size_t m = 0, r = 0;
  std::vector<uint64_t> masks;
  std::vector<double> psd;
  std::vector<int> paf;
  std::vector<uint64_t> hash;  // linear in paf, so a pair's key is a sum
};

Candidates candidates(int64_t n, const Orbits& o) {
  Candidates c;
  const size_t r = c.r = o.sets.size();
  const double bound = 4.0 * double(n) + 1e-6;
  const double w = 2.0 * M_PI / double(n);
  // X(k_f) = sum_a v_a sum_{j in orbit a} e^{i w j k_f}, k_f the first element of orbit f.
  std::vector<double> cs(r * r, 0.0), sn(r * r, 0.0);
  for (size_t a = 0; a < r; ++a)
    for (size_t f = 0; f < r; ++f)
      for (int64_t j : o.sets[a]) {
        cs[a * r + f] += std::cos(w * double(j * o.sets[f][0] % n));
        sn[a * r + f] += std::sin(w * double(j * o.sets[f][0] % n));  // 0 when symmetric
      }
  std::vector<uint64_t> coef(r);
  for (size_t f = 0; f < r; ++f) coef[f] = (uint64_t(f) + 1) * 0x9E3779B97F4A7C15ull ^ 0xD1B54A32D192ED03ull;
  std::vector<int> v(r), x(static_cast<size_t>(n));
  std::vector<double> psd(r);
  for (uint64_t mask = 0; mask < (uint64_t(1) << (r - 1)); ++mask) {
    v[0] = 1;
    for (size_t a = 1; a < r; ++a) v[a] = (mask >> (a - 1)) & 1 ? -1 : 1;
    bool ok = true;
    for (size_t f = 0; f < r && ok; ++f) {
      double X = 0, Y = 0;
      for (size_t a = 0; a < r; ++a) X += v[a] * cs[a * r + f], Y += v[a] * sn[a * r + f];
      psd[f] = X * X + Y * Y;
      ok = psd[f] <= bound;  // PSD_A(k) <= sum of the four = 4n
    }
    if (!ok) continue;
    for (int64_t j = 0; j < n; ++j) x[size_t(j)] = v[size_t(o.orbit_of[size_t(j)])];
    uint64_t h = 0;
    for (size_t f = 1; f < r; ++f) {
      const int64_t s = o.sets[f][0];
      int p = 0;
      for (int64_t j = 0; j < n; ++j) p += x[size_t(j)] * x[size_t((j + s) % n)];
      c.paf.push_back(p);
      h += uint64_t(int64_t(p)) * coef[f];
    }
    c.masks.push_back(mask);
    c.psd.insert(c.psd.end(), psd.begin(), psd.end());
    c.hash.push_back(h);
    ++c.m;
  }
  return c;
}

std::vector<int> sequence(int64_t n, const Orbits& o, uint64_t mask) {
  std::vector<int> x(static_cast<size_t>(n));
  for (int64_t j = 0; j < n; ++j) {
    const int a = o.orbit_of[size_t(j)];
    x[size_t(j)] = a > 0 && ((mask >> (a - 1)) & 1) ? -1 : 1;
  }
  return x;
}

// Meet in the middle over pairs: PAF_A + PAF_B = -(PAF_C + PAF_D) at every nonzero shift.
CirculantRows search_with(int64_t n, const std::vector<int64_t>& G, FourCirculant kind) {
  const Orbits o = orbits_of(n, G);
  const Candidates c = candidates(n, o);
  const size_t m = c.m, r = c.r;
  const double bound = 4.0 * double(n) + 1e-6;
  auto fits = [&](size_t i, size_t j) {
    const double *p = &c.psd[i * r], *q = &c.psd[j * r];
    for (size_t f = 0; f < r; ++f)
      if (p[f] + q[f] > bound) return false;
    return true;
  };
  std::unordered_map<uint64_t, std::pair<uint32_t, uint32_t>> first;
  for (size_t i = 0; i < m; ++i)
    for (size_t j = i; j < m; ++j)
      if (fits(i, j)) first.emplace(c.hash[i] + c.hash[j], std::make_pair(uint32_t(i), uint32_t(j)));
  for (size_t k = 0; k < m; ++k)
    for (size_t l = k; l < m; ++l) {
      if (!fits(k, l)) continue;
      auto it = first.find(uint64_t(0) - (c.hash[k] + c.hash[l]));
      if (it == first.end()) continue;
      const size_t i = it->second.first, j = it->second.second;
      bool match = true;  // the hash only proposes; the autocorrelations decide
      for (size_t f = 0; f + 1 < r && match; ++f)
        match = c.paf[i * (r - 1) + f] + c.paf[j * (r - 1) + f] + c.paf[k * (r - 1) + f] +
                    c.paf[l * (r - 1) + f] == 0;
      if (!match) continue;
      // The PSD sum is then 4n at every frequency; the per-frequency check is only a bound.
      return CirculantRows{n, kind, sequence(n, o, c.masks[i]), sequence(n, o, c.masks[j]),
                           sequence(n, o, c.masks[k]), sequence(n, o, c.masks[l]), int64_t(G.size())};
    }
  return {};
}

CirculantRows search(int64_t n, int max_orbits, FourCirculant kind) {
  TWLA_ASSERT(n >= 3 && n % 2 == 1, n);
  for (const auto& G : unit_subgroups(n, kind == FourCirculant::kWilliamson)) {
    if (orbits_of(n, G).sets.size() > size_t(max_orbits)) continue;
    CirculantRows w = search_with(n, G, kind);
    if (w.n) return w;
  }
  return {};
}

// Written by the searches (default bound) and checked against them in tests/rotations.
struct StoredRows {
  int64_t n;
  FourCirculant kind;
  int64_t subgroup_order;
  const char *a, *b, *c, *d;
};
const std::vector<StoredRows>& stored() {
  static const std::vector<StoredRows> t{
      {23, FourCirculant::kWilliamson, 2,
       "+++---++--++++--++---++",
       "+--+--+++------+++--+--",
       "+--+-+-++++++++++-+-+--",
       "+--++-+-+-++++-+-+-++--"},
      // No Williamson quadruple for 39 is constant on the orbits of a subgroup of order >= 4 (that
      // search is exhaustive); {1, -1} leaves 20 orbits and 130648 sequences past the PSD bound,
      // too many pairs. Goethals-Seidel needs no symmetry: a subgroup of order 6 without -1 serves.
      {39, FourCirculant::kGoethalsSeidel, 6,
       "+++-++----+---+-++-+-+++++--++-+++-+--+",
       "+++--+--------+-+--+-++-+---++-+++-+---",
       "+---+-+++-++++-+-++-++-++++---+--++-+++",
       "++--+-+---+---+++++--+++++---+---+-+--+"},
      {43, FourCirculant::kWilliamson, 6,
       "+++-+-++--+-+-++++-+----+-++++-+-+--++-+-++",
       "++-++++++----+-+--++-++-++--+-+----++++++-+",
       "+---++--++++-+-+++-++--++-+++-+-++++--++---",
       "++---++++-+--+--++--------++--+--+-++++---+"}};
  return t;
}

}  // namespace

std::vector<std::vector<int64_t>> unit_subgroups(int64_t n, bool with_minus_one) {
  TWLA_ASSERT(n >= 3, n);
  std::vector<int64_t> units;
  for (int64_t u = 1; u < n; ++u)
    if (std::gcd(u, n) == 1) units.push_back(u);
  // Every subgroup of Z_n^* for the small n we search is generated by two elements (Z_n^* is a
  // product of at most two cyclic groups when n = p or p q with odd primes p, q).
  std::set<std::vector<int64_t>> seen;
  for (size_t i = 0; i < units.size(); ++i)
    for (size_t j = i; j < units.size(); ++j) {
      std::vector<int64_t> G = closure(n, {units[i], units[j]});
      if (std::binary_search(G.begin(), G.end(), n - 1) == with_minus_one) seen.insert(G);
    }
  std::vector<std::vector<int64_t>> out(seen.begin(), seen.end());
  std::stable_sort(out.begin(), out.end(),
                   [](const auto& x, const auto& y) { return x.size() > y.size(); });
  return out;
}

CirculantRows find_williamson(int64_t n, int max_orbits) {
  return search(n, max_orbits, FourCirculant::kWilliamson);
}
CirculantRows find_goethals_seidel(int64_t n, int max_orbits) {
  return search(n, max_orbits, FourCirculant::kGoethalsSeidel);
}

CirculantRows stored_circulant_rows(int64_t n) {
  for (const StoredRows& s : stored())
    if (s.n == n) {
      CirculantRows w{n, s.kind, parse_signs(s.a), parse_signs(s.b), parse_signs(s.c),
                      parse_signs(s.d), s.subgroup_order};
      TWLA_ASSERT(is_four_circulant(w), "stored circulant rows for n=", n, " are wrong");
      return w;
    }
  return {};
}

std::vector<int64_t> stored_circulant_orders() {
  std::vector<int64_t> out;
  for (const StoredRows& s : stored()) out.push_back(s.n);
  std::sort(out.begin(), out.end());
  return out;
}

std::string circulant_construction(const CirculantRows& r) {
  return (r.kind == FourCirculant::kWilliamson ? "williamson(" : "goethals-seidel(") +
         std::to_string(r.n) + ")";
}

bool is_four_circulant(const CirculantRows& w) {
  const int64_t n = w.n;
  if (n < 1) return false;
  for (const auto* x : {&w.a, &w.b, &w.c, &w.d}) {
    if (int64_t(x->size()) != n) return false;
    for (int64_t j = 0; j < n; ++j) {
      const int v = (*x)[size_t(j)];
      if (v != 1 && v != -1) return false;
      if (w.kind == FourCirculant::kWilliamson && v != (*x)[size_t((n - j) % n)]) return false;
    }
  }
  for (int64_t s = 1; s < n; ++s) {
    int64_t sum = 0;
    for (const auto* x : {&w.a, &w.b, &w.c, &w.d})
      for (int64_t j = 0; j < n; ++j) sum += (*x)[size_t(j)] * (*x)[size_t((j + s) % n)];
    if (sum != 0) return false;
  }
  return true;
}

std::vector<int> four_circulant_hadamard(const CirculantRows& w) {
  TWLA_ASSERT(is_four_circulant(w), "not a four-circulant quadruple, n=", w.n);
  const int64_t n = w.n, N = 4 * n;
  // Block (I, J) = sign * op(circulant(row)); circulant(x)[i][j] = x[(j - i) mod n];
  // op 0: X, op 1: X R -> x[(n - 1 - i - j) mod n], op 2: X^T R -> x[(i + j + 1) mod n].
  struct Block {
    int row, op, sign;
  };
  static const Block williamson[4][4] = {{{0, 0, 1}, {1, 0, 1}, {2, 0, 1}, {3, 0, 1}},
                                         {{1, 0, -1}, {0, 0, 1}, {3, 0, -1}, {2, 0, 1}},
                                         {{2, 0, -1}, {3, 0, 1}, {0, 0, 1}, {1, 0, -1}},
                                         {{3, 0, -1}, {2, 0, -1}, {1, 0, 1}, {0, 0, 1}}};
  static const Block goethals_seidel[4][4] = {{{0, 0, 1}, {1, 1, 1}, {2, 1, 1}, {3, 1, 1}},
                                              {{1, 1, -1}, {0, 0, 1}, {3, 2, 1}, {2, 2, -1}},
                                              {{2, 1, -1}, {3, 2, -1}, {0, 0, 1}, {1, 2, 1}},
                                              {{3, 1, -1}, {2, 2, 1}, {1, 2, -1}, {0, 0, 1}}};
  const auto& layout = w.kind == FourCirculant::kWilliamson ? williamson : goethals_seidel;
  const std::vector<int>* row[4] = {&w.a, &w.b, &w.c, &w.d};
  std::vector<int> H(size_t(N * N));
  for (int I = 0; I < 4; ++I)
    for (int J = 0; J < 4; ++J) {
      const Block& b = layout[I][J];
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < n; ++j) {
          const int64_t t = b.op == 0 ? j - i : b.op == 1 ? n - 1 - i - j : i + j + 1;
          H[size_t((I * n + i) * N + J * n + j)] = b.sign * (*row[b.row])[size_t(((t % n) + n) % n)];
        }
    }
  return H;
}

std::string sign_string(const std::vector<int>& x) {
  std::string s;
  for (int v : x) s += v > 0 ? '+' : '-';
  return s;
}

std::vector<int> parse_signs(const std::string& s) {
  std::vector<int> x;
  for (char ch : s) {
    TWLA_ASSERT(ch == '+' || ch == '-', "bad sign character in '", s, "'");
    x.push_back(ch == '+' ? 1 : -1);
  }
  return x;
}

}  // namespace twla
