// eval/wikitext_lmeval.h: lm-evaluation-harness's `wikitext` task — word perplexity, byte
// perplexity and bits per byte of WikiText-2 test documents scored with rolling windows — as a
// labelled alternative to the token-level protocol of GPTQ and the paper (perplexity.h). The two
// differ (LLaMA-2-7B: 5.47 token-level at 2048 vs ~8.7 word-level), and users compare both.
// Semantics, step by step (sources checked 2026-11-26):
//   documents   EleutherAI/wikitext_document_level wikitext-2-raw-v1: the official wiki.test.raw
//               split at level-1 headings " = Title = " (its builder's _generate_examples)
//   text        lm-eval tasks/wikitext/preprocess_wikitext.py wikitext_detokenizer(page)
//   windows     lm_eval/utils.py get_rolling_token_windows(tokens, prefix=BOS, max_len,
//               context_len=1) + make_disjoint_window; max_len = the model's window by default
//   metrics     word_perplexity = exp(-sum ll / sum words), words = len(re.split(r"\s+", page));
//               byte_perplexity = exp(-sum ll / sum bytes), bits_per_byte = -sum ll / bytes / ln 2
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "eval/loglik.h"

namespace twla {

// The eval task name (descriptor eval.tasks, twla eval --tasks).
inline constexpr const char* kWikitextLmeval = "wikitext2-lmeval";

// The documents ("page"s) of a wiki.*.raw file's text, as the document-level builder makes them.
std::vector<std::string> wikitext_pages(const std::string& raw);

// lm-eval's wikitext_detokenizer, replacement for replacement (the regex substitutions are
// written as scans: each opening bracket/quote up to the next closing one, inner whitespace trimmed).
std::string wikitext_detokenize(const std::string& page);

// len(re.split(r"\s+", s)) in Python 3: the number of maximal Unicode-whitespace runs plus one.
int64_t python_split_ws_count(const std::string& s);

// The disjoint rolling windows of one document as log-likelihood requests: the first predicts
// tokens[0, max_len) after `prefix`; every later one predicts up to max_len further tokens, its
// context the tokens before them, so that context + continuation spans max_len + 1 tokens.
std::vector<LlRequest> rolling_requests(const std::vector<int32_t>& tokens, int32_t prefix,
                                        int64_t max_len);

struct WikitextLmevalResult {
  double word_perplexity = 0, byte_perplexity = 0, bits_per_byte = 0;
  double loglikelihood = 0;   // sum over documents (nats)
  int64_t docs = 0, words = 0, bytes = 0, tokens = 0, windows = 0;
};

// Scores the first `limit` documents (-1 = all 62 of the test split) of the raw file. o.max_length
// is the window (-1 = config max_position_embeddings, as lm-eval's HFLM).
WikitextLmevalResult wikitext_lmeval(const Model& m, const LinearOps& ops, const Tokenizer& tok,
                                     const std::string& raw_text, const LlOptions& o,
                                     int64_t limit = -1);

}  // namespace twla
