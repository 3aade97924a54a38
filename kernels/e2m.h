// kernels/e2m.h: the "e2m" packed format (E2M-ATQ's weights laid out for the kernels) and its CPU
// kernels: GEMV / small-batch GEMM with fp32 activations or per-token asymmetric integer codes.
// Not here: the conversion from libtorch PackedWeight parts (quantizers/e2m_convert.h), CUDA
// (kernels/cuda/e2m_*), model execution.
// Source: issue 8; the weights are those of quantizers/e2m_atq.h "e2m":
//   W[o, c] = (mu + alpha0 * t0) + alpha1 * t1 with the params of (o, block(c), group[o, c]).
//
// E2M-ATQ's groups per 128-column block: two "A" groups (salient hi/lo, order 2: t0 and t1) that
// own whole columns (the salient columns are the same for every row), and two "B" groups
// (non-salient hi/lo, order 1: t0 only). So per block:
//   * one column permutation shared by all rows puts the n_a A columns first;
//   * each element gets a 3-bit code c0 = 4 h + (t0 + 1), h = 0/1 for the hi/lo group of its
//     region, and the first ceil8(n_a) positions a second code c1 = 4 h + (t1 + 1);
//   * per row and block 10 fp32 params (exact copies of the quantizer's).
// A kernel builds per row-block two 8-entry fp32 tables (A: mu + alpha0 t0 and alpha1 t1; B:
// mu + alpha0 t0) indexed directly by the 3-bit codes (AVX2 vpermps), so each weight is decoded
// to exactly the fp32 value above with ~3 instructions per 8 weights and then reused by every
// token of the batch. (An integer dot-product scheme needs 8 masked partial sums per row-block;
// the table decode is cheaper and exact.)
//
// Layout (version 1), one byte buffer, sections 64-byte aligned from the buffer start:
//   header  64 B   E2mHeader (magic "E2M\0", version, shape, row bytes)
//   blocks  E2mBlockInfo [nb]   {n_a, byte offset of the block inside a row}
//   perm    uint8 [nb, 128]     permuted position p -> column (inside the block) it holds;
//                               positions >= the block's width (last block) hold 0 and are pad
//   codes   uint8 [oc, row_bytes] + 4 spare bytes. Row o, block b at o * row_bytes + offset[b]:
//             c0: 48 bytes, positions 8i..8i+7 in the 24-bit little-endian word at byte 3i,
//                 position 8i + j at bits 3j..3j+2;
//             c1: 3 * ceil8(n_a) / 8 bytes, same packing. Positions >= n_a hold c1 = 1 (t1 = 0).
//           Pad positions hold c0 = 1. Codes 3 and 7 are invalid (e2m_unpack rejects them).
//   params  float [oc, nb, 10]: mu_A0 mu_A1 a0_A0 a0_A1 a1_A0 a1_A1 mu_B0 mu_B1 a0_B0 a0_B1
// Bits per weight: e2m_bits_per_weight (every section but alignment; ~3 + 3 n_a / 128 + 2.5).
//
// Errors: malformed input (bad magic/version, truncated buffer, shape mismatch, inconsistent
// block table or permutation, a layout E2M-ATQ's groups do not fit) throws std::invalid_argument
// naming the value and a fix.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace twla::kernels {

constexpr uint32_t kE2mMagic = 0x004d3245u;  // bytes "E2M\0" little-endian
constexpr uint32_t kE2mVersion = 1;
constexpr int64_t kE2mBlock = 128;   // columns per block (E2M-ATQ's block size)
constexpr int kE2mParams = 10;       // fp32 params per row and block
constexpr int64_t kE2mC0Bytes = 48;  // 128 positions x 3 bits

struct E2mHeader {
  uint32_t magic, version;
  int64_t oc, ic, n_blocks, row_bytes;
  int64_t reserved[3];
};
static_assert(sizeof(E2mHeader) == 64, "e2m header is one cache line");

struct E2mBlockInfo {
  int32_t n_a;     // A (salient) columns, first in the permuted order
  int32_t offset;  // byte offset of the block's codes inside a row
};

// A validated, non-owning view of an e2m buffer.
struct E2mView {
  int64_t oc = 0, ic = 0, n_blocks = 0, row_bytes = 0;
  const E2mBlockInfo* blocks = nullptr;  // [nb]
  const uint8_t* perm = nullptr;         // [nb, 128]
  const uint8_t* codes = nullptr;        // [oc, row_bytes]
  const float* params = nullptr;         // [oc, nb, 10]
  int64_t width(int64_t b) const { return b + 1 < n_blocks ? kE2mBlock : ic - b * kE2mBlock; }
};

// The quantizer's form (quantizers/e2m_atq.h "e2m") as raw row-major arrays:
// group uint8 [oc, ic]; t0, t1 int8 [oc, ic] in {-1,0,1}; mu, alpha0, alpha1 fp32 [oc, nb, G].
// Groups 0..G-3 are the A (salient) groups, the last two the B groups (G in 2..4; G = 3 is
// E2M-ATQ with split_salient off); G = 1 is one order-2 group over every column (GPTQ-ternary's
// {min, 0, max} grid as t0 = [code == 1], t1 = [code == -1]). Throws when an A group shares a column with a B group, a B
// element has t1 != 0, a param is not finite, or a code is out of range.
struct E2mSource {
  int64_t oc = 0, ic = 0, groups = 4;
  const uint8_t* group = nullptr;
  const int8_t *t0 = nullptr, *t1 = nullptr;
  const float *mu = nullptr, *alpha0 = nullptr, *alpha1 = nullptr;
};

// An owned e2m buffer (what the converter returns and the kernel backend keeps).
struct E2mBuffer {
  std::vector<uint8_t> bytes;
  E2mView view() const;  // validated
};

E2mBuffer e2m_pack(const E2mSource& src);
// The inverse of e2m_pack for `groups` (the buffer does not record it): fills an E2mSource's
// arrays (group, t0, t1 [oc, ic]; mu, alpha0, alpha1 [oc, n_blocks, groups], per 128-column
// block). The B groups' alpha1, which the layout does not keep (their t1 is 0), come back 0.
// Throws on invalid codes, a code naming a group that `groups` does not have, and a nonzero
// param in a slot `groups` leaves unused (a buffer packed with other groups).
void e2m_unpack(const E2mView& w, int64_t groups, uint8_t* group, int8_t* t0, int8_t* t1, float* mu,
                float* alpha0, float* alpha1);
// Checks magic, version, sizes, the block table, the permutations and (when >= 0) the shape.
// buf must be 4-byte aligned.
E2mView e2m_view(const uint8_t* buf, size_t n, int64_t expect_oc = -1, int64_t expect_ic = -1);
// Honest storage: header, block table, permutations, codes and params, per weight.
double e2m_bits_per_weight(const E2mView& w);
// The fp32 weights [oc, ic] the buffer stands for, in the original column order, computed as
// (mu + alpha0 * t0) + alpha1 * t1 in fp32 (bit-identical to the quantizer's dequantize).
// Throws on invalid codes.
void e2m_dequantize(const E2mView& w, float* W);

enum class E2mPath { kAuto, kScalar, kAvx2 };
struct E2mOpts {
  int threads = 1;                // rows are split across kernels/thread_pool's shared pool
  E2mPath path = E2mPath::kAuto;  // kAuto: AVX2 when the CPU has it, else scalar
};

// y [batch, oc] = x [batch, ic] W^T, fp32 activations. Any batch; 1..16 is the target.
void e2m_gemm_f32(const E2mView& w, const float* x, int batch, float* y, const E2mOpts& o = {});
// Per-token asymmetric integer activations x_hat[b, k] = (q[b, k] - zero[b]) * scale[b]
// (q: codes [batch, ic], e.g. TWLA's 4-bit ones): y = scale * ((q - zero) W^T), where q - zero
// is formed in fp32 (exact for integer zero points).
void e2m_gemm_act(const E2mView& w, const uint8_t* q, const float* scale, const float* zero, int batch,
                  float* y, const E2mOpts& o = {});

// The definitions: plain loops over e2m_dequantize's weights, double accumulation.
void e2m_gemm_f32_ref(const E2mView& w, const float* x, int batch, float* y);
void e2m_gemm_act_ref(const E2mView& w, const uint8_t* q, const float* scale, const float* zero, int batch,
                      float* y);

}  // namespace twla::kernels
