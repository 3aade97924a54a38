// rotations/williamson.h: Hadamard matrices of order 4n (n odd) from four circulant +-1 matrices,
// for the orders Sylvester and Paley miss (92 = 4*23, 156 = 4*39, 172 = 4*43).
//   Williamson: A, B, C, D symmetric, A^2 + B^2 + C^2 + D^2 = 4n I, and
//     H = [[A, B, C, D], [-B, A, -D, C], [-C, D, A, -B], [-D, -C, B, A]].
//   Goethals-Seidel: A, B, C, D any circulants with A A^T + B B^T + C C^T + D D^T = 4n I, R the
//     back-diagonal, H = [[A, BR, CR, DR], [-BR, A, D^T R, -C^T R], [-CR, -D^T R, A, B^T R],
//     [-DR, C^T R, -B^T R, A]]. Used where no Williamson quadruple was found (n = 39).
// Both have H H^T = 4n I. Their first rows come from one deterministic search by the
// multiplier-orbit method: sequences constant on the orbits of a subgroup G of Z_n^* (symmetric
// when -1 is in G, which is what Williamson needs), a power-spectrum bound PSD(k) <= 4n on each,
// and a meet-in-the-middle on the periodic autocorrelations of pairs (the integer form of
// PSD_A + PSD_B + PSD_C + PSD_D = 4n). Plans use rows stored from that search; a test reruns it.
// Not here: the other constructions and the plans (hadamard.h). No libtorch: plain vectors.
// Source: Williamson (1944); Goethals, Seidel (1967); Djokovic's orbit searches (1990s).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace twla {

enum class FourCirculant { kWilliamson, kGoethalsSeidel };

// The four first rows (+-1) of circulants of order n, and which array they fill.
struct CirculantRows {
  int64_t n = 0;  // 0: none
  FourCirculant kind = FourCirculant::kWilliamson;
  std::vector<int> a, b, c, d;
  int64_t subgroup_order = 0;  // |G| of the orbit search that found them
};

// Subgroups of the unit group Z_n^* (each sorted ascending) that contain -1 (with_minus_one) or
// do not; largest first, ties by elements, so the order is deterministic.
std::vector<std::vector<int64_t>> unit_subgroups(int64_t n, bool with_minus_one);

// Deterministic searches: subgroups from large to small, skipping those with more than
// max_orbits orbits on Z_n (2^(orbits-1) sequences each); the first solution found, or n == 0.
// Williamson searches the subgroups that hold -1; Goethals-Seidel those that do not.
CirculantRows find_williamson(int64_t n, int max_orbits = 16);
CirculantRows find_goethals_seidel(int64_t n, int max_orbits = 16);

// The stored rows for odd n (written by the searches above), or n == 0; and the stored n values.
CirculantRows stored_circulant_rows(int64_t n);
std::vector<int64_t> stored_circulant_orders();
// "williamson(n)" or "goethals-seidel(n)".
std::string circulant_construction(const CirculantRows& r);

// True when the rows are +-1 of length n, symmetric if the kind needs it, and their periodic
// autocorrelations sum to 0 at every nonzero shift.
bool is_four_circulant(const CirculantRows& r);
// The 4n x 4n Hadamard matrix of r's array, row-major, entries +-1.
std::vector<int> four_circulant_hadamard(const CirculantRows& r);

// "+-" text of a row (what the table stores) and back.
std::string sign_string(const std::vector<int>& x);
std::vector<int> parse_signs(const std::string& s);

}  // namespace twla
