// eval/loglik.h: the log-likelihood engine behind zero-shot tasks, lm-evaluation-harness
// semantics: ll = sum log p(continuation tokens | context), is_greedy = every continuation token
// is the argmax. Requests of one group (one document's choices) share the tokens their inputs
// have in common: per block, that prefix runs once (prefix batches, right-padded) into a KV
// cache; then the rows run from it (suffix batches of rows with similar prefix and length,
// right-padded, each continuing min(prefix) cached positions of its own group). Causal attention
// never lets a real position see padding, so results equal one full forward per request. Blocks
// run layer by layer over chunks of documents: an uncached model loads each block once per chunk.
// Not here: building requests from task documents (tasks.h), metrics (zeroshot.h).
// Source: lm-eval lm_eval/api/model.py TemplateLM._encode_pair / loglikelihood and
// models/huggingface.py _loglikelihood_tokens (checked 2026-11-26).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/model.h"
#include "core/tokenizer.h"

namespace twla {

struct LlRequest {
  std::vector<int32_t> context;        // token ids, BOS first when the model wants one; non-empty
  std::vector<int32_t> continuation;   // non-empty
  int64_t group = -1;                  // same group: may share a prefix; -1 = alone
};

struct LlResult {
  double logprob = 0;
  bool is_greedy = false;
  // The continuation was longer than the window: only its last max_length tokens were scored.
  // lm-eval stops with an assertion there; tiny-window models (stories260K: 512) meet it on PIQA.
  bool truncated = false;
};

struct LlOptions {
  int batch = 16;                     // rows (requests) per forward, as lm-eval --batch_size;
                                      // prefix forwards take this many groups
  bool reuse_prefix = true;           // false: every row runs its whole input (the harness way)
  int64_t max_length = -1;            // model window; -1 = config max_position_embeddings
  int64_t chunk_bytes = int64_t(512) << 20;   // hidden states held per layer-by-layer chunk
  std::string label = "loglikelihood";        // progress line
};

// lm-eval _encode_pair: trailing whitespace of the context moves to the continuation; then
// continuation = encode(context + continuation)[len(encode(context)):]. With add_bos the BOS
// id goes in front of the context (lm-eval after PR #3347 delegates BOS to the tokenizer; earlier
// versions never added it). An empty context becomes [BOS] (or [EOS] without BOS), as lm-eval.
// Error if the continuation tokenizes to nothing.
LlRequest encode_pair(const Tokenizer& tok, const std::string& context,
                      const std::string& continuation, bool add_bos);

// Results in request order. Inputs longer than max_length are cut from the left, as lm-eval:
// input = (context + continuation)[-(max_length + 1):][:-1]; the continuation should fit
// (see LlResult::truncated).
std::vector<LlResult> loglikelihood(const Model& m, const LinearOps& ops,
                                    const std::vector<LlRequest>& reqs, const LlOptions& o);

// The definition: one request, its whole (truncated) sequence through Model::forward, log-softmax
// in double. Slow; tests compare the engine against it.
LlResult loglikelihood_reference(const Model& m, const LinearOps& ops, const LlRequest& r,
                                 int64_t max_length = -1);

}  // namespace twla
