// eval/zeroshot.h: the zero-shot entry point the pipeline calls: one task name in, the metrics
// lm-evaluation-harness reports for it out (acc, acc_stderr, acc_norm, acc_norm_stderr;
// lambada: acc, perplexity). Documents -> requests (tasks.h) -> log-likelihoods (loglik.h).
// Not here: the task formats (tasks_*.cpp), the forward engine (loglik.cpp), results files.
// Source: lm-eval api/task.py ConfigurableTask.process_results (multiple_choice: argmax ll;
// acc_norm: argmax ll / len(choice) in characters; loglikelihood: acc = is_greedy, perplexity
// aggregation exp(-mean ll)), api/metrics.py mean_stderr (sample std, ddof=1, / sqrt(n)).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/model.h"
#include "core/tokenizer.h"

namespace twla {

struct ZeroShotOptions {
  int64_t limit = -1;         // first N documents per task, as lm-eval --limit
  int64_t subsample = -1;     // then N documents drawn without replacement (seeded), file order kept
  uint64_t seed = 0;
  int batch = 16;             // requests per forward (loglik.h)
  // JSONL of every request (task, doc, id, line, choice, gold, context, continuation, token
  // counts/ids, ll, is_greedy) for diffing against lm-eval's --log_samples. "{task}" in the path
  // becomes the task name (file rewritten); without it the file is appended to. "" = none.
  std::string dump_requests;
  bool keep_per_example = false;
  // Beyond the lead's interface (defaults keep it):
  std::string file;           // task file instead of the data dir's (e.g. a hellaswag_val.jsonl)
  // "tokenizer": BOS as the tokenizer adds it (lm-eval after PR #3347, 2025-10); "never": no BOS
  // (lm-eval 0.3 - 0.4.9 HFLM, add_special_tokens=False), what most published Llama tables used.
  std::string bos = "tokenizer";
};

struct TaskMetrics {
  std::map<std::string, double> values;   // "acc", "acc_stderr", "acc_norm", "acc_norm_stderr",
                                          // "perplexity", "perplexity_stderr" (lambada);
                                          // "truncated_requests" only when some continuation
                                          // exceeded the model window (LlResult::truncated)
  int64_t n_docs = 0;
  double seconds = 0;
  // With keep_per_example: the ll of every request, documents in order, choices in order
  // (lambada: one per document).
  std::vector<double> per_example_ll;
};

bool is_zeroshot_task(const std::string& name);
// piqa, arc_easy, arc_challenge, hellaswag, winogrande, lambada_openai, lambada_standard,
// boolq, openbookqa
std::vector<std::string> zeroshot_task_names();

TaskMetrics run_zeroshot(const Model& m, const LinearOps& ops, const Tokenizer& tok,
                         const std::string& task, const ZeroShotOptions& o);

// lm-eval mean_stderr: sqrt(sum (x - mean)^2 / (n - 1)) / sqrt(n); 0 for n < 2.
double mean_stderr(const std::vector<double>& x);

}  // namespace twla
