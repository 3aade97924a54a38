// eval/perplexity.h: perplexity as GPTQ and the TWLA reference compute it (ALGORITHMS.md 6):
// tokenize the joined text once, cut non-overlapping seqlen windows (remainder dropped),
// ppl = exp(mean NLL over positions 1..seqlen-1 of every window). Next to it, the divergence of a
// quantized model from the FP model on the same windows: mean KL(FP||Q) per token and top-1
// agreement, from cached FP final hidden states (so FP runs once per dataset).
// The forward runs layer by layer over all windows, one decoder block resident at a time.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/model.h"
#include "core/tensor.h"

namespace twla {

struct PplResult {
  double ppl = 0, nll = 0;      // exp(mean NLL), mean NLL (nats/token)
  int64_t windows = 0, tokens = 0;
  double kl = -1, top1 = -1;    // vs FP; -1 when not computed
  double seconds = 0;
};

// [n_windows, seqlen] int64 windows of ids; max_windows < 0 = all.
Tensor make_windows(const std::vector<int32_t>& ids, int seqlen, int64_t max_windows);

// Final-norm hidden states [N, T, hidden] for windows [N, T], layer by layer.
Tensor final_hidden(const Model& m, const Tensor& windows, const LinearOps& ops, int batch,
                    const std::string& label);

// NLL (and, given fp_hidden of the same windows, KL/top-1 vs FP) from final hidden states.
PplResult score_hidden(const Model& m, const Tensor& windows, const Tensor& hidden,
                       const Tensor* fp_hidden);

}  // namespace twla
