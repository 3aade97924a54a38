// tests/eval/test_loglik.cpp: the log-likelihood engine on stories260K agrees with a plain
// full-sequence forward (loglikelihood_reference) on 100 random task requests to 1e-4, whatever
// the batch size and with or without prefix reuse; lm-eval's _encode_pair; run_zeroshot end to
// end on a few documents of every task (with the request dump).
#include <fstream>
#include <random>

#include "core/paths.h"
#include "eval/loglik.h"
#include "eval/tasks.h"
#include "eval/zeroshot.h"
#include "tests/catch.h"

using namespace twla;

namespace {

struct Fixture {
  Model m{data_dir() + "/models/stories260K"};
  std::unique_ptr<Tokenizer> tok = load_tokenizer(data_dir() + "/models/stories260K");
  LinearOps ops;
};

Fixture& fx() {
  static Fixture f;
  return f;
}

// 100 requests drawn from the first documents of every task, with their document as group.
std::vector<LlRequest> random_requests() {
  std::vector<LlRequest> all;
  int64_t group = 0;
  for (const auto& name : zeroshot_task_names()) {
    auto t = zeroshot_tasks().make(name);
    auto docs = t->load(data_dir() + "/" + t->files().back());
    for (size_t d = 0; d < 8 && d < docs.size(); ++d, ++group)
      for (const auto& r : docs[d].requests) {
        LlRequest q = encode_pair(*fx().tok, r.context, r.continuation, fx().tok->add_bos());
        q.group = group;
        all.push_back(q);
      }
  }
  std::mt19937_64 rng(7);
  std::vector<LlRequest> picked;
  for (int i = 0; i < 100; ++i) picked.push_back(all[rng() % all.size()]);
  // Keep whole documents too, so groups really share prefixes: the first 3 groups complete.
  for (const auto& q : all)
    if (q.group < 3) picked.push_back(q);
  return picked;
}

}  // namespace

TEST_CASE("loglik: encode_pair moves trailing spaces and splits the joint encoding") {
  const Tokenizer& tok = *fx().tok;
  LlRequest a = encode_pair(tok, "Once upon a time ", "there was", true);
  LlRequest b = encode_pair(tok, "Once upon a time", " there was", true);
  CHECK(a.context == b.context);
  CHECK(a.continuation == b.continuation);
  auto whole = tok.encode("Once upon a time there was");
  auto ctx = tok.encode("Once upon a time");
  CHECK(std::vector<int32_t>(whole.begin() + int64_t(ctx.size()), whole.end()) == b.continuation);
  CHECK(b.context.front() == tok.bos_id());
  CHECK(b.context.size() == ctx.size() + 1);
  CHECK(encode_pair(tok, "Once upon a time", " there was", false).context == ctx);
  LlRequest e = encode_pair(tok, "", "Once", true);   // empty context: [BOS]
  CHECK(e.context == std::vector<int32_t>{tok.bos_id()});
}

TEST_CASE("loglik: engine == full-sequence forward on 100 random requests, any batching") {
  const auto reqs = random_requests();
  std::vector<LlResult> ref;
  for (const auto& r : reqs) ref.push_back(loglikelihood_reference(fx().m, fx().ops, r));
  struct Case { int batch; bool reuse; };
  for (Case c : {Case{16, true}, Case{3, true}, Case{7, false}}) {
    CAPTURE(c.batch, c.reuse);
    LlOptions o;
    o.batch = c.batch;
    o.reuse_prefix = c.reuse;
    const auto got = loglikelihood(fx().m, fx().ops, reqs, o);
    REQUIRE(got.size() == reqs.size());
    double worst = 0;
    for (size_t i = 0; i < reqs.size(); ++i) {
      worst = std::max(worst, std::abs(got[i].logprob - ref[i].logprob));
      CHECK(got[i].is_greedy == ref[i].is_greedy);
    }
    CHECK(worst <= 1e-4);
  }
}

TEST_CASE("loglik: inputs beyond the window are cut from the left, as lm-eval") {
  std::string longtext;
  for (int i = 0; i < 60; ++i) longtext += "Lily and Tom went to the park to play. ";
  std::vector<LlRequest> reqs;
  for (const char* cont : {" They were happy.", " The sun was hot."}) {
    LlRequest q = encode_pair(*fx().tok, longtext, cont, true);
    q.group = 0;
    reqs.push_back(q);
  }
  // A continuation longer than the window: only its last 512 tokens are scored.
  LlRequest huge = encode_pair(*fx().tok, "Once upon a time", " " + longtext, true);
  huge.group = 0;
  REQUIRE(huge.continuation.size() > 512);
  reqs.push_back(huge);
  REQUIRE(reqs[0].context.size() + reqs[0].continuation.size() > 513);   // window 512
  const auto got = loglikelihood(fx().m, fx().ops, reqs, LlOptions{});
  for (size_t i = 0; i < reqs.size(); ++i) {
    const LlResult ref = loglikelihood_reference(fx().m, fx().ops, reqs[i]);
    CHECK(std::abs(got[i].logprob - ref.logprob) <= 1e-4);
    CHECK(got[i].truncated == (i == 2));
    CHECK(ref.truncated == (i == 2));
  }
}

TEST_CASE("zeroshot: every task end to end on a few documents, with the request dump") {
  const std::string dump = "/tmp/twla_zs_dump_{task}.jsonl";
  for (const auto& task : zeroshot_task_names()) {
    CAPTURE(task);
    ZeroShotOptions o;
    o.limit = 6;
    o.subsample = 4;
    o.seed = 1;
    o.dump_requests = dump;
    o.keep_per_example = true;
    TaskMetrics r = run_zeroshot(fx().m, fx().ops, *fx().tok, task, o);
    CHECK(r.n_docs == 4);
    CHECK(r.values.at("acc") >= 0);
    CHECK(r.values.at("acc") <= 1);
    CHECK(r.values.count("acc_stderr") == 1);
    const bool lambada = task.rfind("lambada", 0) == 0;
    CHECK(r.values.count("perplexity") == (lambada ? 1u : 0u));
    const bool norm = task == "piqa" || task == "arc_easy" || task == "arc_challenge" ||
                      task == "hellaswag" || task == "openbookqa";
    CHECK(r.values.count("acc_norm") == (norm ? 1u : 0u));
    std::ifstream f("/tmp/twla_zs_dump_" + task + ".jsonl");
    size_t lines = 0;
    for (std::string l; std::getline(f, l);) ++lines;
    CHECK(lines == r.per_example_ll.size());
    CHECK(lines >= 4);
  }
}

TEST_CASE("zeroshot: mean_stderr is lm-eval's (ddof=1)") {
  CHECK(mean_stderr({1, 0, 1, 1}) == Approx(0.25));   // sd = 0.5, / sqrt(4)
  CHECK(mean_stderr({1}) == 0);
}
