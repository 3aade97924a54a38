// kernels/tq2.h: the "tq2" packed ternary format (2 bits/weight + per-group fp32 scale/offset)
// and its CPU kernels: GEMV / small-batch GEMM with fp32 activations or per-token asymmetric
// integer activations (TWLA's A4, or A8 from fp32 by dynamic quantization).
// Not here: the conversion from libtorch PackedWeight parts (callers pass raw pointers), CUDA
// (kernels/cuda/), model execution.
// Source: issue 8; W = mu[:, g] + alpha[:, g] * t, t in {-1, 0, 1} (core/types.h "ternary").
//
// Layout (version 1), one byte buffer, every section 64-byte aligned from the buffer start:
//   header  64 B   Tq2Header below (magic "TQ2\0", version, shape, group size)
//   codes   oc * ic_pad/4 B. ic_pad = ic rounded up to 128. Each row is ic_pad/128 blocks of
//           32 bytes; byte j of block b holds u = t + 1 in {0,1,2} of weights
//           128b + j + 32s at bits 2s..2s+1 (s = 0..3). So one AVX2 load + shift by 2s + and 3
//           gives 32 consecutive codes as bytes, and maddubs(q_uint8, u) sums q*u in int16.
//           Pad weights have u = 1 (t = 0). Code 3 is invalid (tq2_unpack rejects it).
//   alpha   float [oc, G]  (G = ic / group_size; per row: group_size = ic, G = 1)
//   mu      float [oc, G]
//   wsum    float [oc]     sum_k W[o, k], for the activation zero point: sum (q - z) w = sum q w - z wsum
// Bits per weight: 2 * ic_pad / ic + (64 G + 32) / ic (tq2_bits_per_weight).
// Groups must be a multiple of 128 columns or the whole row.
//
// Errors: malformed input (bad magic/version, truncated buffer, shape mismatch, unsupported
// group size, bad code) throws std::invalid_argument with a message naming the value and fix.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace twla::kernels {

constexpr uint32_t kTq2Magic = 0x00325154u;  // bytes "TQ2\0" little-endian
constexpr uint32_t kTq2Version = 1;
constexpr int64_t kTq2Block = 128;  // weights per 32-byte block

struct Tq2Header {
  uint32_t magic, version;
  int64_t oc, ic, ic_pad, group_size, n_groups;
  int64_t reserved[2];
};
static_assert(sizeof(Tq2Header) == 64, "tq2 header is one cache line");

// A validated, non-owning view of a tq2 buffer.
struct Tq2View {
  int64_t oc = 0, ic = 0, ic_pad = 0, group_size = 0, n_groups = 0;
  const uint8_t* codes = nullptr;  // [oc, ic_pad / 4]
  const float* alpha = nullptr;    // [oc, G]
  const float* mu = nullptr;       // [oc, G]
  const float* wsum = nullptr;     // [oc]
  int64_t row_bytes() const { return ic_pad / 4; }
  int64_t blocks_per_group() const { return n_groups == 1 ? ic_pad / kTq2Block : group_size / kTq2Block; }
};

// Bytes of a packed buffer; throws on an unsupported group size. group_size <= 0 means per row.
size_t tq2_bytes(int64_t oc, int64_t ic, int64_t group_size);
double tq2_bits_per_weight(int64_t oc, int64_t ic, int64_t group_size);
// codes: int8 [oc, ic] in {-1,0,1}; alpha, mu: float [oc, G].
std::vector<uint8_t> tq2_pack(const int8_t* codes, const float* alpha, const float* mu, int64_t oc,
                              int64_t ic, int64_t group_size);
// Checks magic, version, sizes and (when >= 0) the expected shape. buf must be 4-byte aligned.
Tq2View tq2_view(const uint8_t* buf, size_t n, int64_t expect_oc = -1, int64_t expect_ic = -1);
// Inverse of tq2_pack; any output may be null. Throws on code 3.
void tq2_unpack(const Tq2View& w, int8_t* codes, float* alpha, float* mu);
// Decoded t of weight (o, k); for references and tests.
inline int tq2_code(const Tq2View& w, int64_t o, int64_t k) {
  const uint8_t* row = w.codes + o * w.row_bytes();
  int64_t j = k % kTq2Block;
  return ((row[(k / kTq2Block) * 32 + j % 32] >> (2 * (j / 32))) & 3) - 1;
}

// Per-token asymmetric integer activations: x_hat[b, k] = (q[b, k] - zero[b]) * scale[b].
struct Tq2Act {
  int batch = 0;
  int64_t ic = 0, ic_pad = 0, group_size = 0, n_groups = 0;
  std::vector<uint8_t> q;       // [batch, ic_pad], zero in the pad
  std::vector<float> scale;     // [batch]
  std::vector<float> zero;      // [batch]
  std::vector<int32_t> gsum;    // [batch, G]: sum of q over each weight group
};
// Dynamic per-token asymmetric quantization of x [batch, ic] to `bits` (2..8) for weights w.
Tq2Act tq2_quantize_act(const Tq2View& w, const float* x, int batch, int bits);
// Wrap existing codes q [batch, ic] (e.g. TWLA's 4-bit activations) for weights w.
Tq2Act tq2_act_from_codes(const Tq2View& w, const uint8_t* q, const float* scale, const float* zero,
                          int batch);

enum class Tq2Path { kAuto, kScalar, kAvx2, kAvxVnni, kAvx512 };
struct Tq2Opts {
  int threads = 1;                  // rows are split across a shared pool of this many threads
  // kAuto: AVX-512 (BW + VNNI, zmm), else AVX-VNNI (ymm), else AVX2, else scalar, as the CPU
  // allows (the VNNI and AVX-512 paths only change the integer kernels; fp32 activations use
  // AVX2). Asking for a path the CPU lacks throws; tests name each path to keep all tested.
  Tq2Path path = Tq2Path::kAuto;
};

// y [batch, oc] = x [batch, ic] W^T with fp32 activations. Any batch; 1..16 is the target.
void tq2_gemm_f32(const Tq2View& w, const float* x, int batch, float* y, const Tq2Opts& o = {});
// y [batch, oc] = x_hat W^T with integer activations (exact integer dot products).
void tq2_gemm_act(const Tq2View& w, const Tq2Act& a, float* y, const Tq2Opts& o = {});

// The definitions: plain loops, double accumulation.
void tq2_gemm_f32_ref(const Tq2View& w, const float* x, int batch, float* y);
void tq2_gemm_act_ref(const Tq2View& w, const Tq2Act& a, float* y);

}  // namespace twla::kernels
