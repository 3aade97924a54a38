// kernels/e2m_pack.cpp: e2m pack / unpack / validate / dequantize (layout: e2m.h).
// Not here: the GEMM kernels (e2m_cpu.cpp) and references (e2m_ref.cpp).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

#include "kernels/e2m.h"
#include "kernels/kernels.h"

namespace twla::kernels {
namespace {

[[noreturn]] void bad(const std::string& m) { throw std::invalid_argument("e2m: " + m); }
int64_t align64(int64_t n) { return (n + 63) / 64 * 64; }
int64_t ceil8(int64_t n) { return (n + 7) / 8 * 8; }
std::string at(int64_t o, int64_t c) { return "[" + std::to_string(o) + ", " + std::to_string(c) + "]"; }

struct Geometry {
  int64_t nb, off_blocks, off_perm, off_codes, off_params, total;
};
Geometry geometry(int64_t oc, int64_t ic, int64_t row_bytes) {
  Geometry g;
  g.nb = (ic + kE2mBlock - 1) / kE2mBlock;
  g.off_blocks = sizeof(E2mHeader);
  g.off_perm = align64(g.off_blocks + g.nb * int64_t(sizeof(E2mBlockInfo)));
  g.off_codes = align64(g.off_perm + g.nb * kE2mBlock);
  g.off_params = align64(g.off_codes + oc * row_bytes + 4);  // + 4: kernels load 4 bytes at 3i
  g.total = align64(g.off_params + oc * g.nb * kE2mParams * 4);
  return g;
}
int64_t block_bytes(int64_t n_a) { return kE2mC0Bytes + 3 * ceil8(n_a) / 8; }

void put3(uint8_t* base, int64_t p, int code) {
  for (int i = 0; i < 3; ++i) {
    const int64_t bit = 3 * p + i;
    uint8_t& byte = base[bit / 8];
    byte = uint8_t((byte & ~(1 << (bit % 8))) | (((code >> i) & 1) << (bit % 8)));
  }
}
int get3(const uint8_t* base, int64_t p) {
  const int64_t bit = 3 * p;
  const unsigned v = unsigned(base[bit / 8]) | (unsigned(base[bit / 8 + 1]) << 8);
  return int((v >> (bit % 8)) & 7);
}

}  // namespace

E2mView E2mBuffer::view() const { return e2m_view(bytes.data(), bytes.size()); }

E2mBuffer e2m_pack(const E2mSource& s) {
  const int64_t oc = s.oc, ic = s.ic, G = s.groups;
  if (oc < 1 || ic < 1) bad("shape " + at(oc, ic) + " must be positive");
  if (G < 1 || G > 4)
    bad("groups=" + std::to_string(G) + " is unsupported: the layout holds up to two salient (order-2) groups "
        "and two non-salient ones (E2M-ATQ gives 3 or 4, GPTQ-ternary 1)");
  if (!s.group || !s.t0 || !s.t1 || !s.mu || !s.alpha0 || !s.alpha1) bad("null input array");
  const int64_t nA = G == 1 ? 1 : G - 2, nb = (ic + kE2mBlock - 1) / kE2mBlock;
  for (int64_t i = 0; i < oc * nb * G; ++i)
    if (!std::isfinite(s.mu[i]) || !std::isfinite(s.alpha0[i]) || !std::isfinite(s.alpha1[i]))
      bad("param of row " + std::to_string(i / (nb * G)) + ", block " + std::to_string(i / G % nb) + ", group " +
          std::to_string(i % G) + " is not finite; requantize the layer");
  // Which columns the A groups own (row 0 decides; every row must agree), checked row-major.
  std::vector<uint8_t> is_a(ic);
  for (int64_t c = 0; c < ic; ++c) is_a[c] = s.group[c] < nA;
  for (int64_t o = 0; o < oc; ++o)
    for (int64_t c = 0; c < ic; ++c) {
      const int64_t i = o * ic + c;
      const int g = s.group[i];
      if (g >= G) bad("group id " + std::to_string(g) + " at " + at(o, c) + " is >= groups=" + std::to_string(G));
      if ((g < nA) != bool(is_a[c]))
        bad("column " + std::to_string(c) + " mixes salient and non-salient groups (rows 0 and " + std::to_string(o) +
            "); the e2m layout needs the salient groups to own whole columns of a block, as E2M-ATQ's masks do");
      if (s.t0[i] < -1 || s.t0[i] > 1 || s.t1[i] < -1 || s.t1[i] > 1) bad("trit at " + at(o, c) + " is not in {-1, 0, 1}");
      if (!is_a[c] && s.t1[i] != 0)
        bad("t1=" + std::to_string(s.t1[i]) + " at " + at(o, c) + " in an order-1 (non-salient) group; "
            "only the salient groups may have a second trit plane");
    }
  // Per block: the permutation (A columns first) and the block table.
  std::vector<E2mBlockInfo> info(nb);
  std::vector<uint8_t> perm(nb * kE2mBlock, 0);
  int64_t row_bytes = 0;
  for (int64_t b = 0; b < nb; ++b) {
    const int64_t st = b * kE2mBlock, w = std::min(kE2mBlock, ic - st);
    int64_t p = 0;
    for (int pass = 1; pass >= 0; --pass)
      for (int64_t c = 0; c < w; ++c)
        if (is_a[st + c] == pass) perm[b * kE2mBlock + p++] = uint8_t(c);
    int32_t n_a = 0;
    for (int64_t c = 0; c < w; ++c) n_a += is_a[st + c];
    info[b] = {n_a, int32_t(row_bytes)};
    row_bytes += block_bytes(n_a);
  }
  if (row_bytes > (int64_t(1) << 31) - 1) bad("rows of " + std::to_string(ic) + " columns are too wide");
  const Geometry g = geometry(oc, ic, row_bytes);
  E2mBuffer out;
  out.bytes.assign(size_t(g.total), 0);
  uint8_t* buf = out.bytes.data();
  E2mHeader h{kE2mMagic, kE2mVersion, oc, ic, nb, row_bytes, {0, 0, 0}};
  std::memcpy(buf, &h, sizeof h);
  std::memcpy(buf + g.off_blocks, info.data(), nb * sizeof(E2mBlockInfo));
  std::memcpy(buf + g.off_perm, perm.data(), perm.size());
  auto* params = reinterpret_cast<float*>(buf + g.off_params);
  for (int64_t o = 0; o < oc; ++o)
    for (int64_t b = 0; b < nb; ++b) {
      const int64_t st = b * kE2mBlock, w = std::min(kE2mBlock, ic - st), n_a = info[b].n_a;
      uint8_t* c0 = buf + g.off_codes + o * row_bytes + info[b].offset;
      uint8_t* c1 = c0 + kE2mC0Bytes;
      for (int64_t p = 0; p < kE2mBlock; ++p) put3(c0, p, 1);
      for (int64_t p = 0; p < ceil8(n_a); ++p) put3(c1, p, 1);
      for (int64_t p = 0; p < w; ++p) {
        const int64_t i = o * ic + st + perm[b * kE2mBlock + p];
        const int hl = p < n_a ? s.group[i] : s.group[i] - int(nA);  // hi/lo inside the region
        put3(c0, p, 4 * hl + s.t0[i] + 1);
        if (p < n_a) put3(c1, p, 4 * hl + s.t1[i] + 1);
      }
      // Slots: A0 A1 = groups 0..nA-1, B0 B1 = groups G-2, G-1 (none when G = 1); unused slots stay 0.
      const float* mu = s.mu + (o * nb + b) * G;
      const float* a0 = s.alpha0 + (o * nb + b) * G;
      const float* a1 = s.alpha1 + (o * nb + b) * G;
      float* P = params + (o * nb + b) * kE2mParams;
      for (int k = 0; k < nA; ++k) P[0 + k] = mu[k], P[2 + k] = a0[k], P[4 + k] = a1[k];
      for (int k = 0; k < 2 && G > 1; ++k) P[6 + k] = mu[nA + k], P[8 + k] = a0[nA + k];
    }
  return out;
}

E2mView e2m_view(const uint8_t* buf, size_t n, int64_t expect_oc, int64_t expect_ic) {
  const E2mHeader h = read_packed_header<E2mHeader>(buf, n, kE2mMagic, kE2mVersion, "e2m");
  if (h.oc < 1 || h.ic < 1 || h.oc > (int64_t(1) << 40) || h.ic > (int64_t(1) << 31)) bad("corrupt shape in header");
  const int64_t nb = (h.ic + kE2mBlock - 1) / kE2mBlock;
  if (h.n_blocks != nb || h.row_bytes < nb * kE2mC0Bytes || h.row_bytes > nb * block_bytes(kE2mBlock))
    bad("header fields n_blocks/row_bytes are inconsistent with ic=" + std::to_string(h.ic));
  if (double(h.oc) * (double(h.row_bytes) + nb * kE2mParams * 4.0) > 1e18) bad("corrupt shape in header");
  const Geometry g = geometry(h.oc, h.ic, h.row_bytes);
  if (n < size_t(g.total))
    bad("truncated buffer: " + std::to_string(n) + " bytes, the header's shape needs " + std::to_string(g.total));
  if ((expect_oc >= 0 && expect_oc != h.oc) || (expect_ic >= 0 && expect_ic != h.ic))
    bad("shape mismatch: buffer holds " + at(h.oc, h.ic) + ", expected " + at(expect_oc, expect_ic));
  E2mView v;
  v.oc = h.oc, v.ic = h.ic, v.n_blocks = nb, v.row_bytes = h.row_bytes;
  v.blocks = reinterpret_cast<const E2mBlockInfo*>(buf + g.off_blocks);
  v.perm = buf + g.off_perm;
  v.codes = buf + g.off_codes;
  v.params = reinterpret_cast<const float*>(buf + g.off_params);
  int64_t off = 0;
  for (int64_t b = 0; b < nb; ++b) {
    const int64_t w = v.width(b);
    if (v.blocks[b].n_a < 0 || v.blocks[b].n_a > w || v.blocks[b].offset != off)
      bad("block table entry " + std::to_string(b) + " is corrupt; repack the weights");
    off += block_bytes(v.blocks[b].n_a);
    uint8_t seen[kE2mBlock] = {};
    for (int64_t p = 0; p < kE2mBlock; ++p) {
      const uint8_t c = v.perm[b * kE2mBlock + p];
      if (p < w ? (c >= w || seen[c]++) : c != 0)
        bad("column permutation of block " + std::to_string(b) + " is corrupt; repack the weights");
    }
  }
  if (off != v.row_bytes) bad("row_bytes=" + std::to_string(v.row_bytes) + " disagrees with the block table");
  return v;
}

double e2m_bits_per_weight(const E2mView& w) {
  const double bytes = sizeof(E2mHeader) + w.n_blocks * (sizeof(E2mBlockInfo) + kE2mBlock) +
                       double(w.oc) * w.row_bytes + double(w.oc) * w.n_blocks * kE2mParams * 4;
  return 8.0 * bytes / (double(w.oc) * double(w.ic));
}

void e2m_unpack(const E2mView& w, int64_t G, uint8_t* group, int8_t* t0, int8_t* t1, float* mu, float* alpha0,
                float* alpha1) {
  if (G < 1 || G > 4) bad("groups=" + std::to_string(G) + " is unsupported (1..4)");
  const int64_t nA = G == 1 ? 1 : G - 2, nb = w.n_blocks;
  for (int64_t o = 0; o < w.oc; ++o)
    for (int64_t b = 0; b < nb; ++b) {
      const E2mBlockInfo bi = w.blocks[b];
      const uint8_t* c0 = w.codes + o * w.row_bytes + bi.offset;
      const float* P = w.params + (o * nb + b) * kE2mParams;
      if (G == 1 && bi.n_a != w.width(b))
        bad("block " + std::to_string(b) + " has non-salient columns, which groups=1 does not have");
      for (int64_t p = 0; p < w.width(b); ++p) {
        const int64_t i = o * w.ic + b * kE2mBlock + w.perm[b * kE2mBlock + p];
        const int a = get3(c0, p), hl = a >> 2, u0 = a & 3;
        if (u0 == 3) bad("invalid code 3 at " + at(o, i % w.ic));
        t0[i] = int8_t(u0 - 1);
        if (p < bi.n_a) {
          const int c = get3(c0 + kE2mC0Bytes, p), u1 = c & 3;
          if (u1 == 3 || (c >> 2) != hl) bad("invalid second-plane code " + std::to_string(c) + " at " + at(o, i % w.ic));
          if (hl >= nA)
            bad("salient group " + std::to_string(hl) + " at " + at(o, i % w.ic) + ", but groups=" + std::to_string(G) +
                " has " + std::to_string(nA));
          group[i] = uint8_t(hl), t1[i] = int8_t(u1 - 1);
        } else {
          group[i] = uint8_t(nA + hl), t1[i] = 0;
        }
      }
      // Slots as e2m_pack fills them; the ones `groups` leaves unused must be 0.
      float* m = mu + (o * nb + b) * G;
      float* a0 = alpha0 + (o * nb + b) * G;
      float* a1 = alpha1 + (o * nb + b) * G;
      bool used[kE2mParams] = {};
      for (int k = 0; k < nA; ++k) {
        m[k] = P[k], a0[k] = P[2 + k], a1[k] = P[4 + k];
        used[k] = used[2 + k] = used[4 + k] = true;
      }
      for (int k = 0; k < 2 && G > 1; ++k) {
        m[nA + k] = P[6 + k], a0[nA + k] = P[8 + k], a1[nA + k] = 0.0f;
        used[6 + k] = used[8 + k] = true;
      }
      for (int k = 0; k < kE2mParams; ++k)
        if (used[k] && !std::isfinite(P[k]))
          bad("param slot " + std::to_string(k) + " of row " + std::to_string(o) + ", block " + std::to_string(b) +
              " is not finite");
        else if (!used[k] && P[k] != 0.0f)
          bad("param slot " + std::to_string(k) + " of row " + std::to_string(o) + ", block " + std::to_string(b) +
              " is set, but groups=" + std::to_string(G) + " leaves it unused (packed with other groups?)");
    }
}

void e2m_dequantize(const E2mView& w, float* W) {
  for (int64_t o = 0; o < w.oc; ++o)
    for (int64_t b = 0; b < w.n_blocks; ++b) {
      const E2mBlockInfo bi = w.blocks[b];
      const uint8_t* c0 = w.codes + o * w.row_bytes + bi.offset;
      const float* P = w.params + (o * w.n_blocks + b) * kE2mParams;
      for (int64_t p = 0; p < w.width(b); ++p) {
        const int64_t col = b * kE2mBlock + w.perm[b * kE2mBlock + p];
        const int a = get3(c0, p), hl = a >> 2, u0 = a & 3;
        if (u0 == 3) bad("invalid code 3 at " + at(o, col));
        float v;
        if (p < bi.n_a) {
          const int c = get3(c0 + kE2mC0Bytes, p), u1 = c & 3;
          if (u1 == 3 || (c >> 2) != hl) bad("invalid second-plane code " + std::to_string(c) + " at " + at(o, col));
          v = (P[hl] + P[2 + hl] * float(u0 - 1)) + P[4 + hl] * float(u1 - 1);
        } else {
          v = P[6 + hl] + P[8 + hl] * float(u0 - 1);
        }
        W[o * w.ic + col] = v;
      }
    }
}

}  // namespace twla::kernels
