// allocators/lac.h: the LAC clip search of one linear at one activation bit width (ALGORITHMS.md 5,
// REFERENCE_NOTES.md 5): for every clip ratio p of a grid (the reference's
// np.arange(0.5, 1.0, 0.005), 1.0 excluded), the SSE of x_hat_p W^T against x W^T over the
// calibration inputs x (after the layer's rotation); the first strict minimum of SSE / count wins.
// Vectorized over the grid (a [P, rows, ic] batch per chunk) rather than the reference's loop.
// Not here: which inputs, which bits (ila_amp.cpp runs the model at one bit width and feeds this).
// Source: TWLA reference run_twla.py:QLinear.cali_begin/cali_update/cali_end; golden case
// lac_search_64to32.
#pragma once
#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace twla {

// numpy.arange(start, start + n * step, step) as numpy computes it: delta = (start + step) - start,
// p_i = start + i * delta. The defaults give the reference's 100 values 0.5 .. 0.995.
std::vector<double> lac_grid(double start = 0.5, double step = 0.005, int n = 100);

struct LacChoice {
  int index = -1;        // into the grid; -1 = every MSE was non-finite (fallback used)
  double clip = 0;       // the chosen ratio (or the fallback)
  double mse = 0;        // sse / count at the choice
};

class LacSearch {
 public:
  LacSearch(int bits, std::vector<double> grid, bool compat_reference = false);
  // x [..., ic] fp32 (the input the activation fake-quant sees), W [oc, ic], bias [oc] or
  // undefined. Rows are processed in chunks of 4096, as the reference does.
  void add(const Tensor& x, const Tensor& W, const Tensor& bias = Tensor());
  const std::vector<double>& sse() const { return sse_; }   // per grid value
  int64_t count() const { return count_; }                  // rows * oc so far
  const std::vector<double>& grid() const { return grid_; }
  LacChoice best(double fallback_clip) const;

 private:
  int bits_;
  std::vector<double> grid_;
  bool compat_;
  std::vector<double> sse_;
  int64_t count_ = 0;
};

}  // namespace twla
