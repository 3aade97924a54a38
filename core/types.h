// core/types.h: the data that flows between stages of a run (DESIGN_SKETCH.md "Core types").
// Shapes: W [oc, ic]; H [ic, ic]; calibration inputs X [tokens, ic].
#pragma once
#include <map>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace twla {

// A linear layer as plugins see it. name: "layers.3.mlp.down_proj".
struct LinearRef {
  std::string name;
  int block = 0;
  Tensor W;  // [oc, ic] fp32
};

// What calibration collected for one linear (inputs already rotated).
struct LayerStats {
  Tensor H;                      // [ic, ic] fp32, (2/N_seq) sum_tokens x x^T
  std::vector<Tensor> S_blocks;  // per 128-column block [w, w]: mean over sequences of X^T X
  int64_t n_seq = 0;
  int64_t n_tokens = 0;
};

// A quantized weight in a storable, executable form. `format` names the layout:
//   "dense":   parts W (fp32 or bf16)                                     -> W
//   "uniform": parts codes (uint8/int8 [oc, ic]), scale, zero ([oc, G]), attr group_size
//              -> W = scale[:, g] * (codes - zero[:, g]), g = c / group_size, or g = g_idx[c]
//              where attr g_idx = 1 says an int32 part g_idx [ic] is stored (GPTQ act-order
//              with dynamic groups, whose groups are not runs of columns)
//   "ternary": parts codes (int8 in {-1,0,1} [oc, ic]), alpha, mu ([oc, G]), attr group_size
//              -> W = mu[:, g] + alpha[:, g] * codes
//   "e2m":     see quantizers/e2m_atq.h (also honors attr/part g_idx: block of column c = g_idx[c])
// Later formats (tq2) add rows here and in packed.cpp.
struct PackedWeight {
  std::string format = "dense";
  std::vector<int64_t> shape;             // [oc, ic]
  std::map<std::string, Tensor> parts;
  std::map<std::string, int64_t> attrs;   // e.g. group_size (-1 = whole row)
  double bits_per_weight = 32.0;          // honest storage: codes + scales + masks, per weight
};

// Rebuilds the [oc, ic] fp32 weight a PackedWeight stands for.
Tensor dequantize(const PackedWeight& p);

// Per-layer numbers a quantizer reports; stored into the run's HDF5.
struct LayerReport {
  double weight_err = 0;        // ||W - W_hat||_F / ||W||_F
  double output_err = -1;       // tr(E H E^T) when H is known, else -1
  double bits_per_weight = 32;
  double seconds = 0;
  std::map<std::string, double> extra;  // quantizer-specific scalars
};

struct QuantResult {
  Tensor dequant;        // [oc, ic] fp32
  PackedWeight packed;
  LayerReport report;
};

// Activation bit widths and clip ratios chosen by an allocator.
struct Allocation {
  std::vector<int> act_bits;             // per decoder block; 16 = off
  std::map<std::string, double> clip;    // per linear name; missing = the default clip
};

}  // namespace twla
