// tests/results/test_report.cpp: report tables (exact text), metric order, avg7, `twla show`.
#include "core/error.h"
#include "results/report.h"
#include "tests/catch.h"
#include "tests/results/fixtures.h"

using namespace twla;

namespace {

// Three runs as a sweep leaves them: a TWLA run, an RTN baseline missing some evals, and a
// run whose name and labels need LaTeX escaping.
std::vector<RunRecord> sample_runs() {
  RunRecord a;
  a.name = "w1.58a4_e2m";
  a.run_id = "aaa";
  a.labels = {{"method", "e2m_atq"}, {"wbits", "1.58"}, {"abits", "4"}, {"rotation", "kotms"}};
  a.metrics = {{"ppl/wikitext2", 9.876}, {"ppl/c4", 12.3456}, {"kl/wikitext2", 0.1234}};
  RunRecord b;
  b.name = "rtn 100% baseline";
  b.run_id = "bbb";
  b.labels = {{"method", "rtn"}, {"wbits", "2"}, {"abits", "16"}};
  b.metrics = {{"ppl/wikitext2", 1234.5}, {"top1/wikitext2", 0.5}};
  RunRecord c;
  c.name = "gptq&hadamard";
  c.run_id = "ccc";
  c.labels = {{"method", "gptq_v2"}, {"wbits", "4"}, {"abits", "4"}, {"rotation", "had#1"}};
  c.metrics = {{"ppl/wikitext2", 6.1}, {"kl/wikitext2", 0.015}};
  return {a, b, c};
}

RunRecord zero_shot_run(double base) {
  RunRecord r;
  r.name = "zs";
  for (size_t i = 0; i < avg7_tasks().size(); ++i) r.metrics[avg7_tasks()[i]] = base + double(i);
  r.metrics["ppl/wikitext2"] = 5;
  r.metrics["acc_norm/piqa"] = 80;
  r.metrics["bench/tokens_per_s"] = 100;
  return r;
}

}  // namespace

TEST_CASE("report_markdown: aligned columns, paper metric order, dashes for missing") {
  const std::string expected =
      "| name              | method  | W bits | A bits | rotation | ppl/wikitext2 | ppl/c4 | kl/wikitext2 | top1/wikitext2 |\n"
      "|:------------------|:--------|:-------|:-------|:---------|--------------:|-------:|-------------:|---------------:|\n"
      "| w1.58a4_e2m       | e2m_atq | 1.58   | 4      | kotms    |          9.88 |  12.35 |         0.12 |              – |\n"
      "| rtn 100% baseline | rtn     | 2      | 16     | –        |       1234.50 |      – |            – |           0.50 |\n"
      "| gptq&hadamard     | gptq_v2 | 4      | 4      | had#1    |          6.10 |      – |         0.01 |              – |\n";
  CHECK(report_markdown(sample_runs()) == expected);
}

TEST_CASE("report_markdown: chosen metrics and digits") {
  TableOptions o;
  o.metrics = {"kl/wikitext2", "ppl/wikitext2"};
  o.digits = 3;
  const std::string expected =
      "| name              | method  | W bits | A bits | rotation | kl/wikitext2 | ppl/wikitext2 |\n"
      "|:------------------|:--------|:-------|:-------|:---------|-------------:|--------------:|\n"
      "| w1.58a4_e2m       | e2m_atq | 1.58   | 4      | kotms    |        0.123 |         9.876 |\n"
      "| rtn 100% baseline | rtn     | 2      | 16     | –        |            – |      1234.500 |\n"
      "| gptq&hadamard     | gptq_v2 | 4      | 4      | had#1    |        0.015 |         6.100 |\n";
  CHECK(report_markdown(sample_runs(), o) == expected);
}

TEST_CASE("report_latex: booktabs, escaped text") {
  const std::string expected =
      "\\begin{tabular}{lllllrrrr}\n"
      "\\toprule\n"
      "name & method & W bits & A bits & rotation & ppl/wikitext2 & ppl/c4 & kl/wikitext2 & top1/wikitext2 \\\\\n"
      "\\midrule\n"
      "w1.58a4\\_e2m & e2m\\_atq & 1.58 & 4 & kotms & 9.88 & 12.35 & 0.12 & -- \\\\\n"
      "rtn 100\\% baseline & rtn & 2 & 16 & -- & 1234.50 & -- & -- & 0.50 \\\\\n"
      "gptq\\&hadamard & gptq\\_v2 & 4 & 4 & had\\#1 & 6.10 & -- & 0.01 & -- \\\\\n"
      "\\bottomrule\n"
      "\\end{tabular}\n";
  CHECK(report_latex(sample_runs()) == expected);
}

TEST_CASE("report_csv: full precision, quoted where needed, run_id last") {
  auto runs = sample_runs();
  runs[1].name = "rtn, \"2 bit\"";
  const std::string expected =
      "name,method,W bits,A bits,rotation,ppl/wikitext2,ppl/c4,kl/wikitext2,top1/wikitext2,run_id\n"
      "w1.58a4_e2m,e2m_atq,1.58,4,kotms,9.876,12.3456,0.1234,,aaa\n"
      "\"rtn, \"\"2 bit\"\"\",rtn,2,16,,1234.5,,,0.5,bbb\n"
      "gptq&hadamard,gptq_v2,4,4,had#1,6.1,,0.015,,ccc\n";
  CHECK(report_csv(runs) == expected);
}

TEST_CASE("metric columns: ppl, kl, top1, acc in paper task order, avg7 after the accuracies") {
  RunRecord r = zero_shot_run(70);
  r.metrics["kl/c4"] = 0.2;
  r.metrics["top1/wikitext2"] = 0.9;
  r.metrics["ppl/c4"] = 7;
  std::vector<std::string> expected{
      "ppl/wikitext2",  "ppl/c4",         "kl/c4",          "top1/wikitext2",
      "acc/piqa",       "acc/arc_easy",   "acc/arc_challenge", "acc/hellaswag",
      "acc/winogrande", "acc/lambada_openai", "acc/lambada_standard", "avg7",
      "acc_norm/piqa",  "bench/tokens_per_s"};
  CHECK(table_metrics({r}, {}) == expected);
}

TEST_CASE("avg7 is the mean of the seven tasks, and only where a run has all seven") {
  RunRecord full = zero_shot_run(70);   // 70..76: mean 73
  RunRecord partial = zero_shot_run(60);
  partial.name = "partial";
  partial.metrics.erase("acc/winogrande");
  TableOptions o;
  o.metrics = {"acc/piqa", "avg7"};
  const std::string expected =
      "| name    | method | W bits | A bits | rotation | acc/piqa |  avg7 |\n"
      "|:--------|:-------|:-------|:-------|:---------|---------:|------:|\n"
      "| zs      | –      | –      | –      | –        |    70.00 | 73.00 |\n"
      "| partial | –      | –      | –      | –        |    60.00 |     – |\n";
  CHECK(report_markdown({full, partial}, o) == expected);
  CHECK(table_metrics({partial}, {}).size() == 9);   // no avg7 column when no run has all seven
}

TEST_CASE("an unknown metric column is an error with a suggestion") {
  TableOptions o;
  o.metrics = {"ppl/wikitxt2"};
  try {
    report_markdown(sample_runs(), o);
    FAIL("no error");
  } catch (const Error& e) {
    std::string msg = e.what();
    CHECK(msg.find("ppl/wikitxt2") != std::string::npos);
    CHECK(msg.find("did you mean 'ppl/wikitext2'") != std::string::npos);
  }
}

TEST_CASE("an empty run list gives a header-only table") {
  CHECK(report_markdown({}) ==
        "| name | method | W bits | A bits | rotation |\n"
        "|:-----|:-------|:-------|:-------|:---------|\n");
}

TEST_CASE("format_run shows provenance, metrics, layers, series and the descriptor") {
  std::string s = format_run(test::full_record());
  INFO(s);
  for (const char* part :
       {"run     w1.58a4-e2m_atq-κ", "id      3f2a9c0d11e4", "git     abc123def456-dirty",
        "model/model.safetensors", "ppl/wikitext2    9.8765", "quantize        10m12s",
        "layers (2)", "model.layers.1.mlp.down_proj", "relocations", "act_bits",
        "n=4  min 4  max 8  [4, 4, 8, 4]", "descriptor\n  model: llama-2-7b\n",
        "    note: \"ternär ✓\"\n"})
    CHECK(s.find(part) != std::string::npos);
  CHECK(s.find("damp") < s.find("relocations"));
}
