// eval/perplexity.cpp: see perplexity.h.
#include "eval/perplexity.h"

#include <chrono>
#include <cmath>

#include "core/error.h"
#include "core/progress.h"

namespace twla {

Tensor make_windows(const std::vector<int32_t>& ids, int seqlen, int64_t max_windows) {
  TWLA_CHECK(seqlen >= 2, "eval.seqlen=", seqlen, " must be at least 2");
  int64_t n = int64_t(ids.size()) / seqlen;
  if (max_windows >= 0) n = std::min(n, max_windows);
  TWLA_CHECK(n > 0, "the text has ", ids.size(), " tokens, fewer than eval.seqlen=", seqlen,
             "; lower eval.seqlen");
  Tensor w = at::empty({n, seqlen}, at::kLong);
  auto* p = w.data_ptr<int64_t>();
  for (int64_t i = 0; i < n * seqlen; ++i) p[i] = ids[size_t(i)];
  return w;
}

Tensor final_hidden(const Model& m, const Tensor& windows, const LinearOps& ops, int batch,
                    const std::string& label) {
  const int64_t n = windows.size(0);
  batch = std::max(1, batch);
  Tensor h = m.embed(windows);  // [N, T, hidden]
  const int nb = m.n_blocks();
  const int64_t chunks = (n + batch - 1) / batch;
  Progress prog(label, int64_t(nb) * chunks, "block-batches");
  for (int b = 0; b < nb; ++b) {
    Block blk = m.load_block(b);
    for (int64_t s = 0; s < n; s += batch) {
      int64_t e = std::min(n, s + batch);
      h.narrow(0, s, e - s).copy_(m.block_forward(blk, h.narrow(0, s, e - s), ops));
      prog.tick();
    }
  }
  prog.finish();
  return m.norm(h);
}

PplResult score_hidden(const Model& m, const Tensor& windows, const Tensor& hidden,
                       const Tensor* fp_hidden) {
  auto t0 = std::chrono::steady_clock::now();
  const int64_t n = windows.size(0), T = windows.size(1);
  double nll_sum = 0, kl_sum = 0;
  int64_t agree = 0, count = 0;
  for (int64_t i = 0; i < n; ++i) {
    Tensor logp = at::log_softmax(m.logits(hidden[i].unsqueeze(0))[0].narrow(0, 0, T - 1), -1);
    Tensor target = windows[i].narrow(0, 1, T - 1);
    nll_sum -= logp.gather(1, target.unsqueeze(1)).sum().item<double>();
    count += T - 1;
    if (fp_hidden) {
      Tensor logp_fp =
          at::log_softmax(m.logits((*fp_hidden)[i].unsqueeze(0))[0].narrow(0, 0, T - 1), -1);
      kl_sum += (logp_fp.exp() * (logp_fp - logp)).sum().item<double>();
      agree += logp_fp.argmax(-1).eq(logp.argmax(-1)).sum().item<int64_t>();
    }
  }
  PplResult r;
  r.windows = n;
  r.tokens = count;
  r.nll = nll_sum / double(count);
  r.ppl = std::exp(r.nll);
  if (fp_hidden) {
    r.kl = kl_sum / double(count);
    r.top1 = double(agree) / double(count);
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

}  // namespace twla
