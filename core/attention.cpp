// core/attention.cpp: see attention.h. The ATen calls mirror the PyTorch expressions of
// transformers one for one (reciprocal-then-multiply where Python writes `scalar / tensor`), so
// the float32 results match an HF forward to the last bit where the kernels allow.
#include "core/attention.h"

#include <algorithm>
#include <cmath>
#include <limits>
#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#define TWLA_HAVE_MXCSR 1
#endif

#include "core/error.h"

namespace twla {

#ifdef TWLA_HAVE_MXCSR
FlushDenormals::FlushDenormals() : saved_(_mm_getcsr()) { _mm_setcsr(saved_ | 0x8040u); }
FlushDenormals::~FlushDenormals() { _mm_setcsr(saved_); }
#else
FlushDenormals::FlushDenormals() {}
FlushDenormals::~FlushDenormals() {}
#endif

Tensor rms_norm(const Tensor& x, const Tensor& weight, double eps) {
  Tensor h = x.to(at::kFloat);
  Tensor var = h.pow(2).mean(-1, /*keepdim=*/true);
  return weight * (h * at::rsqrt(var + eps));
}

Tensor rope_inv_freq(const ModelConfig& c) {
  const int64_t d = c.head_dim;
  Tensor expo = at::arange(0, d, 2, at::kLong).to(at::kFloat) / double(d);
  Tensor inv = at::reciprocal(at::pow(c.rope_theta, expo));
  const RopeScaling& s = c.rope_scaling;
  if (s.type.empty()) return inv;
  if (s.type == "linear") return inv / s.factor;
  TWLA_ASSERT(s.type == "llama3", "rope_scaling '", s.type, "' passed config parsing");
  const double omp = double(s.original_max_position_embeddings);
  const double low_wavelen = omp / s.low_freq_factor, high_wavelen = omp / s.high_freq_factor;
  Tensor wavelen = at::reciprocal(inv) * (2 * M_PI);
  // Long wavelengths (low frequencies) are slowed by `factor`; short ones are kept.
  Tensor scaled = at::where(wavelen > low_wavelen, inv / s.factor, inv);
  Tensor smooth = (at::reciprocal(wavelen) * omp - s.low_freq_factor) /
                  (s.high_freq_factor - s.low_freq_factor);
  Tensor smoothed = (1 - smooth) * scaled / s.factor + smooth * scaled;
  Tensor medium = at::logical_not(wavelen < high_wavelen) & at::logical_not(wavelen > low_wavelen);
  return at::where(medium, smoothed, scaled);
}

RopeTables rope_tables(const ModelConfig& c, int64_t pos, int64_t T) {
  TWLA_CHECK(pos >= 0 && T >= 0, "rope positions ", pos, "..", pos + T, " are invalid");
  Tensor p = at::arange(pos, pos + T, at::kLong).to(at::kFloat);
  Tensor freqs = at::outer(p, rope_inv_freq(c));   // [T, d/2]; one product each, exact as HF's matmul
  Tensor emb = at::cat({freqs, freqs}, -1);        // [T, d]
  return {emb.cos(), emb.sin()};
}

Tensor apply_rope(const Tensor& x, const RopeTables& r) {
  const int64_t d = x.size(-1), half = d / 2;
  TWLA_ASSERT(r.cos.size(0) == x.size(-2) && r.cos.size(1) == d, describe(x), " vs ", describe(r.cos));
  Tensor rot = at::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
  return x * r.cos + rot * r.sin;
}

Tensor causal_attention(const Tensor& q, const Tensor& k, const Tensor& v, int64_t window,
                        int64_t chunk_floats) {
  TWLA_ASSERT(q.dim() == 4 && k.dim() == 4 && v.sizes() == k.sizes(), describe(q), describe(k));
  const int64_t B = q.size(0), H = q.size(1), T = q.size(2), hd = q.size(3);
  const int64_t KVH = k.size(1), Tk = k.size(2), rep = H / KVH, past = Tk - T;
  TWLA_ASSERT(H % KVH == 0 && k.size(0) == B && k.size(3) == hd && past >= 0);
  const double scale = std::pow(double(hd), -0.5);   // HF: head_dim**-0.5
  const float hide = std::numeric_limits<float>::lowest();   // HF: finfo(float32).min
  // Group the query heads of one KV head instead of repeating K and V (same dot products):
  // batch b*KVH + g holds query heads g*rep .. g*rep+rep-1.
  Tensor qg = q.reshape({B, KVH, rep, T, hd});
  Tensor out = at::empty({B, KVH, rep, T, hd}, q.options());
  // Query chunks keep the scores cache-sized, and each chunk reads only the keys it may see,
  // which skips most of the masked upper triangle.
  const int64_t chunk = std::max<int64_t>(16, chunk_floats / std::max<int64_t>(1, B * H * Tk));
  for (int64_t t0 = 0; t0 < T; t0 += chunk) {
    const int64_t n = std::min(chunk, T - t0);
    const int64_t kend = past + t0 + n;   // keys after this are in every query's future
    const int64_t kbeg = window > 0 ? std::max<int64_t>(0, past + t0 - window + 1) : 0;
    const int64_t nk = kend - kbeg;
    Tensor qc = qg.narrow(3, t0, n).reshape({B * KVH, rep * n, hd});
    Tensor kc = k.narrow(2, kbeg, nk).reshape({B * KVH, nk, hd});
    Tensor vc = v.narrow(2, kbeg, nk).reshape({B * KVH, nk, hd});
    // Additive mask, as in HF: scores * scale + (0 or finfo.min).
    Tensor qpos = at::arange(past + t0, past + t0 + n, at::kLong).unsqueeze(1);   // [n, 1]
    Tensor kpos = at::arange(kbeg, kend, at::kLong).unsqueeze(0);                // [1, nk]
    Tensor hidden = kpos > qpos;
    if (window > 0) hidden = hidden | (qpos - kpos >= window);
    Tensor s = at::zeros({n, nk}, q.options()).masked_fill_(hidden, hide)
                   .expand({B * KVH, rep, n, nk}).contiguous().view({B * KVH, rep * n, nk});
    s.baddbmm_(qc, kc.transpose(1, 2), /*beta=*/1, /*alpha=*/scale);
    Tensor p = at::softmax(s, -1, at::kFloat);
    out.narrow(3, t0, n).copy_(at::bmm(p, vc).view({B, KVH, rep, n, hd}));
  }
  return out.view({B, H, T, hd});
}

}  // namespace twla
