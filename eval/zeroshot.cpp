// eval/zeroshot.cpp: see zeroshot.h. Metric definitions follow lm-eval; the one departure is
// perplexity_stderr, which lm-eval bootstraps (100k resamples) and we take by the delta method,
// ppl * stderr(ll): the same to first order, without the randomness.
#include "eval/zeroshot.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <random>

#include "core/error.h"
#include "core/fs.h"
#include "core/paths.h"
#include "eval/loglik.h"
#include "eval/tasks.h"

namespace twla {

namespace {

// Python len(): code points of the UTF-8 text.
double char_length(const std::string& s) {
  int64_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return double(n);
}

// np.argmax: the first maximum.
size_t argmax(const std::vector<double>& v) {
  size_t best = 0;
  for (size_t i = 1; i < v.size(); ++i)
    if (v[i] > v[best]) best = i;
  return best;
}

std::string task_file(const ZeroShotTask& t, const std::string& name, const std::string& file) {
  if (!file.empty()) {
    const std::string p = expand_path(file);
    TWLA_CHECK(file_exists(p), "zero-shot task ", name, ": file ", p, " does not exist; fix the path");
    return p;
  }
  const auto files = t.files();
  for (const auto& f : files)
    if (file_exists(data_dir() + "/" + f)) return data_dir() + "/" + f;
  return data_file(files.back(), "zero-shot task " + name);   // throws, naming the file and fix
}

void select_docs(std::vector<TaskDoc>& docs, const ZeroShotOptions& o) {
  if (o.limit >= 0 && int64_t(docs.size()) > o.limit) docs.resize(size_t(o.limit));
  if (o.subsample < 0 || int64_t(docs.size()) <= o.subsample) return;
  std::mt19937_64 rng(o.seed);   // the engine is fixed by the standard: same picks everywhere
  std::vector<size_t> idx(docs.size());
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  for (size_t i = 0; i < size_t(o.subsample); ++i) std::swap(idx[i], idx[i + rng() % (idx.size() - i)]);
  idx.resize(size_t(o.subsample));
  std::sort(idx.begin(), idx.end());
  std::vector<TaskDoc> kept;
  for (size_t i : idx) kept.push_back(std::move(docs[i]));
  docs = std::move(kept);
}

void dump(const std::string& pattern, const std::string& task, const std::vector<TaskDoc>& docs,
          const std::vector<LlRequest>& reqs, const std::vector<LlResult>& res) {
  std::string path = expand_path(pattern);
  const size_t p = path.find("{task}");
  const bool per_task = p != std::string::npos;
  if (per_task) path.replace(p, 6, task);
  std::ofstream f(path, per_task ? std::ios::trunc : std::ios::app);
  TWLA_CHECK(f.good(), "eval.dump_requests: cannot write ", path, "; check the directory");
  size_t i = 0;
  for (size_t d = 0; d < docs.size(); ++d)
    for (size_t k = 0; k < docs[d].requests.size(); ++k, ++i) {
      nlohmann::json j = {{"task", task}, {"doc", d}, {"id", docs[d].id}, {"line", docs[d].line},
                          {"choice", k}, {"gold", docs[d].gold},
                          {"context", docs[d].requests[k].context},
                          {"continuation", docs[d].requests[k].continuation},
                          {"context_tokens", reqs[i].context.size()},
                          {"continuation_ids", reqs[i].continuation},
                          {"ll", res[i].logprob}, {"is_greedy", res[i].is_greedy}};
      f << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    }
  TWLA_CHECK(f.good(), "eval.dump_requests: writing ", path, " failed (disk full?)");
}

}  // namespace

double mean_stderr(const std::vector<double>& x) {
  const size_t n = x.size();
  if (n < 2) return 0;
  double mu = 0;
  for (double v : x) mu += v;
  mu /= double(n);
  double ss = 0;
  for (double v : x) ss += (v - mu) * (v - mu);
  return std::sqrt(ss / double(n - 1)) / std::sqrt(double(n));
}

bool is_zeroshot_task(const std::string& name) { return zeroshot_tasks().contains(name); }

std::vector<std::string> zeroshot_task_names() { return zeroshot_tasks().names(); }

TaskMetrics run_zeroshot(const Model& m, const LinearOps& ops, const Tokenizer& tok,
                         const std::string& task, const ZeroShotOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  TWLA_CHECK(o.bos == "tokenizer" || o.bos == "never", "eval.bos='", o.bos,
             "' is not one of: tokenizer, never");
  const auto t = zeroshot_tasks().make(task);
  const std::string path = task_file(*t, task, o.file);
  std::vector<TaskDoc> docs = t->load(path);
  TWLA_CHECK(!docs.empty(), "zero-shot task ", task, ": ", path, " has no documents");
  select_docs(docs, o);

  const bool add_bos = o.bos == "tokenizer" && tok.add_bos();
  std::vector<LlRequest> reqs;
  for (size_t d = 0; d < docs.size(); ++d)
    for (const auto& r : docs[d].requests) {
      LlRequest q;
      try {
        q = encode_pair(tok, r.context, r.continuation, add_bos);
      } catch (const Error& e) {
        TWLA_FAIL(path, ":", docs[d].line, ": ", e.what());
      }
      q.group = int64_t(d);
      reqs.push_back(std::move(q));
    }
  LlOptions lo;
  lo.batch = o.batch;
  lo.label = "zero-shot " + task;
  const std::vector<LlResult> res = loglikelihood(m, ops, reqs, lo);
  if (!o.dump_requests.empty()) dump(o.dump_requests, task, docs, reqs, res);

  TaskMetrics out;
  out.n_docs = int64_t(docs.size());
  std::vector<double> acc, acc_norm, ll;
  size_t i = 0;
  for (const TaskDoc& d : docs) {
    std::vector<double> lls, normed;
    for (size_t k = 0; k < d.requests.size(); ++k, ++i) {
      lls.push_back(res[i].logprob);
      const double len = char_length(d.choices[k]);
      normed.push_back(len > 0 ? res[i].logprob / len : -std::numeric_limits<double>::infinity());
      if (o.keep_per_example) out.per_example_ll.push_back(res[i].logprob);
    }
    if (t->output() == TaskOutput::kLastWord) {
      acc.push_back(res[i - 1].is_greedy ? 1.0 : 0.0);
      ll.push_back(res[i - 1].logprob);
    } else {
      acc.push_back(argmax(lls) == size_t(d.gold) ? 1.0 : 0.0);
      acc_norm.push_back(argmax(normed) == size_t(d.gold) ? 1.0 : 0.0);
    }
  }
  auto mean = [](const std::vector<double>& x) {
    double s = 0;
    for (double v : x) s += v;
    return s / double(x.size());
  };
  int64_t truncated = 0;
  for (const auto& r : res) truncated += r.truncated;
  if (truncated > 0) {   // a departure from lm-eval (which would stop): say so in the results
    out.values["truncated_requests"] = double(truncated);
    std::fprintf(stderr, "warning: zero-shot %s: %ld continuations longer than the model window "
                 "were scored on their last tokens only (lm-eval would stop)\n", task.c_str(),
                 long(truncated));
  }
  out.values["acc"] = mean(acc);
  out.values["acc_stderr"] = mean_stderr(acc);
  if (t->output() == TaskOutput::kLastWord) {
    const double ppl = std::exp(-mean(ll));
    out.values["perplexity"] = ppl;
    out.values["perplexity_stderr"] = ppl * mean_stderr(ll);
  } else if (t->has_acc_norm()) {
    out.values["acc_norm"] = mean(acc_norm);
    out.values["acc_norm_stderr"] = mean_stderr(acc_norm);
  }
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return out;
}

}  // namespace twla
