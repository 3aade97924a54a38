// quantizers/e2m_atq.cpp: the E2M-ATQ layer driver (see e2m_atq.h): dead columns, damping,
// U = chol(H^-1) upper, then per block: masks, frozen fits, the GPTQ column loop and the lazy
// update of later columns; and the "e2m" packed form.
#include "quantizers/e2m_atq.h"

#include <ATen/Parallel.h>

#include <cmath>

#include "core/error.h"
#include "quantizers/e2m_atq_fit.h"
#include "quantizers/e2m_atq_masks.h"
#include "quantizers/hessian.h"

namespace twla {

namespace {
// GPTQ's in-block loop with frozen q: row by row (rows are independent), column by column.
// W1, Q1: [oc, w] contiguous; U1: [w, w] contiguous. Writes Err1 and returns sum of losses / 2.
double feedback_block(Tensor& W1, const Tensor& Q1, const Tensor& U1, Tensor& Err1) {
  const int64_t oc = W1.size(0), w = W1.size(1);
  float* pw = W1.data_ptr<float>();
  const float* pq = Q1.data_ptr<float>();
  const float* pu = U1.data_ptr<float>();
  float* pe = Err1.data_ptr<float>();
  std::vector<double> row_loss(oc, 0.0);
  at::parallel_for(0, oc, 8, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      float* wr = pw + r * w;
      const float* qr = pq + r * w;
      float* er = pe + r * w;
      float loss = 0;   // the reference sums Losses1 per row in fp32
      for (int64_t i = 0; i < w; ++i) {
        const float d = pu[i * w + i];
        const float diff = wr[i] - qr[i];
        loss += (diff * diff) / (d * d);
        const float e = diff / d;
        er[i] = e;
        const float* ui = pu + i * w;
        for (int64_t j = i; j < w; ++j) wr[j] -= e * ui[j];
      }
      row_loss[r] = loss;
    }
  });
  double s = 0;
  for (double v : row_loss) s += v / 2;
  return s;
}
}  // namespace

void validate(const E2mAtqConfig& c, const std::string& path) {
  TWLA_CHECK(c.blocksize > 0, path, ".blocksize=", c.blocksize, " must be positive (default 128)");
  TWLA_CHECK(c.percdamp >= 0, path, ".percdamp=", c.percdamp, " must be >= 0 (default 0.1)");
  TWLA_CHECK(c.max_salient >= 1, path, ".max_salient=", c.max_salient, " must be >= 1 (default 64)");
  TWLA_CHECK(c.stage1_iters >= 0 && c.stage2_iters >= 0, path, ".stage1_iters/stage2_iters=",
             c.stage1_iters, "/", c.stage2_iters, " must be >= 0 (default 15)");
}

double e2m_bits_per_weight(int64_t oc, int64_t ic, int64_t block_size,
                           const std::vector<int>& orders, double order2_fraction) {
  const int64_t G = static_cast<int64_t>(orders.size());
  const double group_bits = G > 1 ? std::ceil(std::log2(static_cast<double>(G))) : 0.0;
  constexpr double kTritBits = 8.0 / 5.0;   // 5 trits per byte
  int64_t params = 0;
  for (int o : orders) params += 1 + o;     // mu + one alpha per plane
  const double nb = std::ceil(static_cast<double>(ic) / static_cast<double>(block_size));
  const double param_bits = 16.0 * static_cast<double>(params) * nb / static_cast<double>(ic);
  (void)oc;
  return group_bits + kTritBits * (1.0 + order2_fraction) + param_bits;
}

E2mAtqOutput e2m_atq_quantize(const Tensor& W_orig, const Tensor& H_orig,
                              const std::vector<Tensor>& S_blocks, const E2mAtqConfig& cfg,
                              const std::string& layer, bool keep_trace) {
  validate(cfg, "e2m-atq");
  TWLA_CHECK(W_orig.dim() == 2, "e2m-atq: weight of layer '", layer, "' has shape ",
             describe(W_orig), ", expected [oc, ic]");
  const int64_t oc = W_orig.size(0), ic = W_orig.size(1), bs = cfg.blocksize;
  check_shape(H_orig, {ic, ic}, "H of layer '" + layer + "'");
  const int64_t nb = (ic + bs - 1) / bs;
  TWLA_CHECK(static_cast<int64_t>(S_blocks.size()) == nb, "e2m-atq: layer '", layer, "' has ",
             S_blocks.size(), " S blocks, expected ", nb, " (ic=", ic, ", blocksize=", bs,
             "); collect S with the same blocksize");
  check_finite(W_orig, "weight", layer);
  check_finite(H_orig, "H", layer);

  // Every BLAS call of the layer (S products, lazy updates) on one OpenBLAS thread, so the
  // output does not depend on --threads (OneBlasThread); the row loops still run in parallel.
  OneBlasThread one_blas;
  E2mAtqOutput out;
  Tensor W = W_orig.to(at::kFloat).clone();
  Tensor H = H_orig.to(at::kFloat).clone();
  out.dead = fix_dead_columns(H, W);
  out.damp = damp_hessian(H, cfg.percdamp);
  Tensor U = inverse_cholesky_upper(H, layer, cfg.percdamp);
  if (keep_trace) out.Hinv = U;

  e2m::MaskSearchOptions opt;
  opt.max_salient = cfg.max_salient;
  opt.salient_search = cfg.salient_search;
  opt.split_salient = cfg.split_salient;
  opt.salient_order = cfg.order2 ? 2 : 1;
  opt.iters = cfg.stage1_iters;
  opt.compat_reference = cfg.compat_reference;
  const int64_t G = cfg.split_salient ? 4 : 3;
  // The reference's RTN branch never writes its output (REFERENCE_NOTES.md §6.1).
  const bool zero_output = cfg.compat_reference && !cfg.feedback;

  Tensor Q = at::zeros_like(W);
  Tensor group = at::zeros({oc, ic}, at::kByte);
  Tensor t0 = at::zeros({oc, ic}, at::kChar), t1 = at::zeros({oc, ic}, at::kChar);
  Tensor mu = at::zeros({oc, nb, G}, at::kFloat);
  Tensor a0 = at::zeros_like(mu), a1 = at::zeros_like(mu);
  std::vector<int> orders;
  int64_t n_order2 = 0;

  for (int64_t b = 0; b < nb; ++b) {
    const int64_t st = b * bs, w = std::min(bs, ic - st), ed = st + w;
    const Tensor& S = S_blocks[b];
    check_shape(S, {w, w}, str("S block ", b, " of layer '", layer, "'"));
    check_finite(S, str("S block ", b), layer);
    Tensor W1 = W.narrow(1, st, w).contiguous().clone();          // [oc, w]
    Tensor U1 = U.narrow(0, st, w).narrow(1, st, w).contiguous();  // [w, w]
    Tensor W_in = keep_trace ? W1.clone() : Tensor();

    e2m::MaskSearchTrace mt;
    e2m::BlockMasks bm = e2m::search_masks(W1, U1, S, opt, keep_trace ? &mt : nullptr);
    TWLA_ASSERT(static_cast<int64_t>(bm.masks.size()) == G);
    orders = bm.orders;
    Tensor S_fit = cfg.stage2 ? S.to(at::kFloat) : Tensor();
    Tensor Q1 = at::zeros_like(W1);
    std::vector<Tensor> qparts;
    for (int64_t k = 0; k < G; ++k) {
      const Tensor& m = bm.masks[k];
      e2m::TernaryFit f =
          e2m::ternarize_rows(W1, m, bm.orders[k], S_fit, cfg.stage1_iters, cfg.stage2_iters);
      Q1 += f.value * m;
      if (keep_trace) qparts.push_back(f.value);
      if (zero_output) continue;
      group.narrow(1, st, w).masked_fill_(m, static_cast<int64_t>(k));
      Tensor t0b = t0.narrow(1, st, w), t1b = t1.narrow(1, st, w);
      t0b.copy_(at::where(m, f.t0.to(at::kChar), t0b));
      t1b.copy_(at::where(m, f.t1.to(at::kChar), t1b));
      mu.select(1, b).select(1, k).copy_(f.mu);
      a0.select(1, b).select(1, k).copy_(f.a0);
      a1.select(1, b).select(1, k).copy_(f.a1);
      if (bm.orders[k] == 2) n_order2 += m.sum().item<int64_t>();
    }
    if (cfg.feedback) {
      Tensor Err1 = at::zeros_like(W1);
      out.error += feedback_block(W1, Q1, U1, Err1);
      Q.narrow(1, st, w).copy_(Q1);
      if (ed < ic) W.narrow(1, ed, ic - ed).sub_(at::matmul(Err1, U.narrow(0, st, w).narrow(1, ed, ic - ed)));
    } else if (!zero_output) {
      Q.narrow(1, st, w).copy_(Q1);
    }
    if (keep_trace) {
      E2mBlockTrace t;
      static_cast<e2m::MaskSearchTrace&>(t) = std::move(mt);
      t.col_begin = st;
      t.col_end = ed;
      t.W_in = W_in;
      t.masks = bm.masks;
      t.orders = bm.orders;
      t.qparts = qparts;
      out.trace.push_back(std::move(t));
    }
  }

  PackedWeight& p = out.packed;
  p.format = "e2m";
  p.shape = {oc, ic};
  p.parts = {{"group", group}, {"t0", t0}, {"t1", t1}, {"mu", mu}, {"alpha0", a0}, {"alpha1", a1}};
  p.attrs = {{"block_size", bs}, {"groups", G}};
  p.bits_per_weight = e2m_bits_per_weight(oc, ic, bs, orders,
                                          static_cast<double>(n_order2) / static_cast<double>(oc * ic));
  out.Q = Q;
  return out;
}

E2mAtqOutput e2m_atq_quantize_from_inputs(const Tensor& W, const Tensor& H,
                                          const std::vector<Tensor>& X_seqs,
                                          const E2mAtqConfig& cfg, const std::string& layer,
                                          bool keep_trace) {
  validate(cfg, "e2m-atq");
  return e2m_atq_quantize(W, H, s_blocks_from_sequences(X_seqs, cfg.blocksize), cfg, layer,
                          keep_trace);
}

}  // namespace twla
