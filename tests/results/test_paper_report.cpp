// tests/results/test_paper_report.cpp: the paper-layout table (row order, method names, mixed
// A bits, x100 accuracies, Avg only with all seven tasks) and the paper plot set.
#include "results/paper_plots.h"
#include "results/paper_table.h"
#include "results/plot.h"
#include "results/report.h"
#include "tests/catch.h"
#include "tests/results/fixtures.h"

using namespace twla;

namespace {
RunRecord run(const std::string& model, const std::string& method, const std::string& rot,
              const std::string& abits, const std::string& alloc, double wiki) {
  RunRecord r;
  r.name = model + "-" + method + "-" + rot + "-" + abits;
  r.labels = {{"model", model}, {"method", method}, {"rotation", rot}, {"abits", abits},
              {"allocator", alloc}, {"wbits", method == "fp" ? "16" : "1.58"}};
  r.metrics["ppl/wikitext2"] = wiki;
  r.metrics["ppl/c4"] = wiki * 1.5;
  return r;
}
}  // namespace

TEST_CASE("paper table: rows in the paper's order, methods by their paper names") {
  std::vector<RunRecord> runs{
      run("Meta-Llama-3-8B", "fp", "none", "16", "uniform", 6.14),
      run("Llama-2-7b-hf", "e2m-atq", "kotms", "4", "ila-amp", 8.31),
      run("Llama-2-7b-hf", "gptq", "hadamard", "16", "uniform", 30),
      run("Llama-2-7b-hf", "e2m-atq", "kotms", "16", "uniform", 6.97),
      run("Llama-2-7b-hf", "fp", "none", "16", "uniform", 5.47),
      run("Llama-2-7b-hf", "ternary-absmean", "none", "16", "uniform", 1e4),
      run("Llama-2-7b-hf", "gptq", "none", "16", "uniform", 50)};
  for (const auto& t : avg7_tasks()) runs[3].metrics[t] = 0.6;
  runs[4].metrics["acc/piqa"] = 0.78;
  PaperTable t = paper_table(runs, 2);
  REQUIRE(t.rows.size() == 7);
  std::vector<std::string> methods, models, abits;
  for (const auto& r : t.rows) {
    models.push_back(r[0]);
    methods.push_back(r[1]);
    abits.push_back(r[3]);
  }
  CHECK(methods == std::vector<std::string>{"FP16", "RTN", "GPTQ", "Hadamard+GPTQ", "TWLA", "TWLA", "FP16"});
  CHECK(abits == std::vector<std::string>{"16", "16", "16", "16", "16", "4 (mixed)", "16"});
  CHECK(models == std::vector<std::string>{"Llama-2-7b-hf", "", "", "", "", "", "Meta-Llama-3-8B"});
  CHECK(t.group_starts == std::vector<size_t>{0, 6});
  // Columns: Wiki2, C4, the tasks any run has, Avg when a run has all seven.
  CHECK(t.header.size() == 4 + 2 + 7 + 1);
  CHECK(t.header[4] == "Wiki2 PPL");
  CHECK(t.header.back() == "Avg");
  CHECK(t.rows[0][4] == "5.47");
  CHECK(t.rows[0][6] == "78.00");      // PIQA x100
  CHECK(t.rows[0].back().empty());     // FP16 here lacks six tasks: no Avg
  CHECK(t.rows[4].back() == "60.00");
  RunRecord ablated = runs[3];
  ablated.config_flat = {{"quantizer.stage2", "false"}, {"quantizer.compat_reference", "false"}};
  CHECK(paper_method(ablated) == "TWLA w/o stage2");
  runs[0].metrics["ppl/tinystories"] = 7;   // other perplexities follow C4
  CHECK(paper_table(runs).header[6] == "tinystories PPL");
  auto md = paper_markdown(runs);
  CHECK(md.find("| Hadamard+GPTQ ") != std::string::npos);
  CHECK(md.find("–") != std::string::npos);
  auto tex = paper_latex(runs);
  CHECK(tex.find("\\#W") != std::string::npos);
  CHECK(tex.find("Wiki2 PPL $\\downarrow$") != std::string::npos);
  CHECK(tex.find("\\midrule\nMeta-Llama-3-8B") != std::string::npos);
}

TEST_CASE("paper plots: PPL vs A bits per method, per-layer error, bits per block") {
  if (!plots_built() || !gnuplot_found()) {
    WARN("gnuplot not available: paper plots not drawn");
    return;
  }
  test::TempDir dir;
  RunRecord mixed = test::full_record();
  mixed.name = "mixed";
  mixed.labels["allocator"] = "ila-amp";
  mixed.labels["abits"] = "4";
  std::vector<RunRecord> runs{mixed, run("m", "fp", "none", "16", "uniform", 6),
                              run("m", "e2m-atq", "kotms", "6", "uniform", 9)};
  auto files = paper_plots(runs, dir.str());
  std::vector<std::string> names;
  for (const auto& f : files) names.push_back(f.substr(dir.str().size() + 1));
  CHECK(names == std::vector<std::string>{"ppl_vs_abits_c4.png", "ppl_vs_abits_wikitext2.png",
                                          "layer_error_mixed.png", "block_bits_mixed.png"});
  for (const auto& f : files) CHECK(test::read_text(f).compare(0, 4, "\x89PNG") == 0);
}
