// rotations/weight_stats.h: what a rotation does to one layer's weight distribution, as pure
// functions for the run's per-layer stats (issue 5): a fixed-bin histogram in units of the
// layer's own RMS, kurtosis, and the fraction of weights at each level of absmean ternarization.
// Not here: recording them in a run (experiments/rotation_stats.h), drawing them (results/plot.h).
// Why RMS units: an orthogonal rotation W -> W Q keeps every row's norm, so the RMS of the layer is
// the same before and after (to rounding) and one axis serves both histograms; max|W| would not
// (removing outliers is what rotations are for), so a max-based range would differ per side.
#pragma once
#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace twla {

constexpr int kWeightHistBins = 100;        // bins of the rotation histograms
constexpr double kWeightHistRange = 5.0;    // they cover [-5, 5] in units of the layer's RMS

// sqrt(mean(W^2)) over all elements, in double. 0 for an empty or all-zero W.
double weight_rms(const Tensor& W);

// Counts of w / unit over `bins` equal bins of [-range, range]: bin k holds
// -range + k*width <= w/unit < -range + (k+1)*width (width = 2*range/bins); values beyond the
// range are counted in the first or last bin (so the counts sum to numel), NaNs nowhere.
// Error for bins < 1, range <= 0 or unit <= 0 (a zero-RMS layer has no scale).
std::vector<int64_t> weight_histogram(const Tensor& W, double unit, int bins, double range);
// The bins+1 edges of that histogram, in units of `unit`.
std::vector<double> weight_histogram_edges(int bins, double range);

// Fraction of elements with |w| > range * unit (the values the end bins also hold).
double fraction_beyond(const Tensor& W, double unit, double range);

// Kurtosis (not excess) E[(w - mean)^4] / var^2: 3 for a Gaussian; 0 if var is 0.
double weight_kurtosis(const Tensor& W);

// Absmean ternarization (BitNet b1.58): alpha = mean|W|, q = clamp(round(w / alpha), -1, 1).
// Fractions of elements with q = -1, 0, +1 (each weight's nearest level of {-alpha, 0, alpha}).
struct TernaryFractions {
  double neg = 0, zero = 0, pos = 0;
};
TernaryFractions ternary_fractions(const Tensor& W);

}  // namespace twla
