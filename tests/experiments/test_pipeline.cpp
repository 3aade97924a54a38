// tests/experiments/test_pipeline.cpp: perplexity against the stories260K golden, and whole runs
// of the pipeline on stories260K (results.h5 contents, skip of finished runs, KL to FP).
#include <filesystem>

#include "core/model.h"
#include "core/paths.h"
#include "core/tokenizer.h"
#include "eval/datasets.h"
#include "eval/perplexity.h"
#include "experiments/pipeline.h"
#include "results/run_file.h"
#include "tests/catch.h"
#include "tests/support/util.h"

namespace fs = std::filesystem;

namespace {
std::string stories() { return twla::data_dir() + "/models/stories260K"; }

using twla::test::temp_dir;

YAML::Node tiny_run(const std::string& name, const std::string& out, const std::string& quantizer) {
  YAML::Node t = YAML::Load("{eval: {tasks: [tinystories], seqlen: 128, max_windows: 16, batch: 8}}");
  t["name"] = name;
  t["model"]["path"] = stories();
  t["quantizer"] = YAML::Load(quantizer);
  t["output"] = out;
  return t;
}
}  // namespace

TEST_CASE("perplexity: stories260K on TinyStories matches the golden protocol", "[ppl]") {
  // golden_tinystories_ppl.json: ids = [BOS] + encode(file); 360 windows of 128 -> 6.0997949824218525
  twla::Model m(stories());
  auto tok = twla::load_tokenizer(stories());
  auto ds = twla::load_ppl_dataset("tinystories");
  auto ids = tok->encode_for_model(ds.text);
  CHECK(ids.size() == 46100);
  auto windows = twla::make_windows(ids, 128, -1);
  CHECK(windows.size(0) == 360);
  auto h = twla::final_hidden(m, windows, twla::LinearOps{}, 32, "test");
  auto r = twla::score_hidden(m, windows, h, &h);
  CHECK(r.ppl == Approx(6.0997949824218525).epsilon(1e-4));
  CHECK(r.kl == Approx(0).margin(1e-9));  // a model against itself
  CHECK(r.top1 == 1.0);
}

TEST_CASE("datasets: wikitext2 rows and the C4 split", "[ppl]") {
  auto w = twla::load_ppl_dataset("wikitext2");
  // HF rows ("" for blank lines, others keep "\n") joined with "\n\n": 1296370 bytes, as Python.
  CHECK(w.text.rfind("\n\n = Robert Boulter = \n\n\n\n\n Robert Boulter is", 0) == 0);
  CHECK(w.text.size() == 1296370);
  auto c4 = twla::load_ppl_dataset("c4");
  std::string file;
  auto cal = twla::calibration_documents("c4", &file);
  CHECK(cal.size() == 900);
  for (size_t i = 0; i < 20; ++i) CHECK(c4.text.find(cal[i]) == std::string::npos);
  CHECK_THROWS_WITH(twla::load_ppl_dataset("wikitext"), Catch::Contains("did you mean 'wikitext2'"));
  CHECK_THROWS_WITH(twla::load_ppl_dataset("text:/nonexistent.txt"), Catch::Contains("/nonexistent.txt"));
}

TEST_CASE("calibration segments are seeded and of the asked shape", "[ppl]") {
  auto tok = twla::load_tokenizer(stories());
  auto a = twla::sample_calibration(*tok, "c4", 4, 64, 0);
  auto b = twla::sample_calibration(*tok, "c4", 4, 64, 0);
  auto c = twla::sample_calibration(*tok, "c4", 4, 64, 1);
  CHECK(a.size() == 256);
  CHECK(a == b);
  CHECK(a != c);
}

TEST_CASE("pipeline: runs write results.h5 with provenance; finished runs are skipped", "[pipeline]") {
  auto dir = temp_dir("pipe");
  twla::RunOptions quiet;
  quiet.quiet = true;
  auto fp = twla::run_experiment(tiny_run("fp", dir.string(), "fp"), quiet);
  auto q = twla::run_experiment(tiny_run("rtn3", dir.string(), "{name: rtn, bits: 3}"), quiet);
  CHECK(fp.metrics.count("kl/tinystories") == 0);  // nothing quantized: no KL
  REQUIRE(q.metrics.count("kl/tinystories") == 1);
  CHECK(q.metrics["kl/tinystories"] > 0);
  CHECK(q.metrics["ppl/tinystories"] > fp.metrics["ppl/tinystories"]);
  CHECK(q.layers.size() == 5 * 7);
  auto back = twla::read_run((dir / "rtn3" / "results.h5").string());
  CHECK(back.run_id == q.run_id);
  CHECK(back.metrics == q.metrics);
  CHECK(back.descriptor_yaml.find("bits: 3") != std::string::npos);
  CHECK(back.input_sha256.at("model/model.safetensors") ==
        "ce63a52d6dadcb6d04b014fbaa6449b3db655ab0890af029d27225cac1650bc4");
  CHECK(back.labels.at("wbits") == "3");
  // Same descriptor again: the stored run is returned, not recomputed.
  auto mtime = fs::last_write_time(dir / "rtn3" / "results.h5");
  auto again = twla::run_experiment(tiny_run("rtn3", dir.string(), "{name: rtn, bits: 3}"), quiet);
  CHECK(again.run_id == q.run_id);
  CHECK(fs::last_write_time(dir / "rtn3" / "results.h5") == mtime);
  // A changed descriptor under the same name is recomputed.
  auto other = twla::run_experiment(tiny_run("rtn3", dir.string(), "{name: rtn, bits: 4}"), quiet);
  CHECK(other.run_id != q.run_id);
  CHECK(twla::read_run((dir / "rtn3" / "results.h5").string()).run_id == other.run_id);
  fs::remove_all(dir);
}

TEST_CASE("pipeline: zero-shot tasks land in the run's metrics", "[pipeline]") {
  auto dir = temp_dir("zs");
  twla::RunOptions quiet;
  quiet.quiet = true;
  YAML::Node t = tiny_run("zs", dir.string(), "fp");
  t["eval"] = YAML::Load("{tasks: [piqa, winogrande], limit: 8}");
  auto r = twla::run_experiment(t, quiet);
  REQUIRE(r.metrics.count("acc/piqa") == 1);
  REQUIRE(r.metrics.count("acc/winogrande") == 1);
  CHECK(r.metrics["acc/piqa"] >= 0);
  CHECK(r.metrics["acc/piqa"] <= 1);
  CHECK(r.metrics.count("acc_norm/piqa") == 1);
  CHECK(r.metrics.count("acc_norm/winogrande") == 0);  // lm-eval reports acc only there
  fs::remove_all(dir);
}

TEST_CASE("pipeline: a rotated run records weight histograms and loss curves per linear", "[pipeline]") {
  auto dir = temp_dir("rot");
  twla::RunOptions quiet;
  quiet.quiet = true;
  YAML::Node t = tiny_run("kotms", dir.string(), "fp");
  t["rotation"] = YAML::Load("{name: kotms, steps: 3}");
  t["eval"]["max_windows"] = 2;
  twla::run_experiment(t, quiet);
  auto r = twla::read_run((dir / "kotms" / "results.h5").string());   // as `twla plot` reads it
  REQUIRE(r.layers.size() == 5 * 7);
  const auto& edges = r.series.at("rotation_hist/edges");
  CHECK(edges.front() == -5.0);
  CHECK(edges.back() == 5.0);
  twla::Model m(stories());
  for (const auto& l : r.layers) {
    const auto shape = m.linear_shape(l.name);
    for (const char* side : {"before", "after"}) {
      const auto& h = r.series.at(std::string("rotation_hist/") + side + "/" + l.name);
      CHECK(h.size() + 1 == edges.size());
      double total = 0;
      for (double c : h) total += c;
      CHECK(total == double(shape[0] * shape[1]));
      const double t3 = l.extra.at(std::string("rot/w_ternary_neg_") + side) +
                        l.extra.at(std::string("rot/w_ternary_zero_") + side) +
                        l.extra.at(std::string("rot/w_ternary_pos_") + side);
      CHECK(t3 == Approx(1.0));
      CHECK(l.extra.at(std::string("rot/w_kurtosis_") + side) > 1.0);
    }
    CHECK(r.series.at("rotation_loss/" + l.name).size() == 4);   // 3 steps + the final loss
    CHECK(l.extra.at("rot/w_rms") > 0);
  }
  // The rotation moved weights between bins somewhere (it is not the identity).
  const std::string q = "layers.0.self_attn.q_proj";
  CHECK(r.series.at("rotation_hist/before/" + q) != r.series.at("rotation_hist/after/" + q));
  fs::remove_all(dir);
}
