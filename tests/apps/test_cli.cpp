// tests/apps/test_cli.cpp: the real `twla` binary: bad input gives one clear line (never a
// libtorch trace), and a run killed mid-way leaves no half-written results.h5 and finishes when
// run again.
#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "core/fs.h"
#include "core/paths.h"
#include "core/safetensors.h"
#include "kernels/cuda/device_linear.h"
#include "results/run_file.h"
#include "tests/catch.h"
#include "tests/support/util.h"

namespace fs = std::filesystem;

namespace {
struct Result {
  int code = -1;
  std::string err, out;
};

// Runs twla with args (a shell string) and captures stderr and stdout.
Result run_twla(const std::string& args, const std::string& env = "") {
  auto errf = fs::temp_directory_path() / ("twla-cli-err-" + std::to_string(::getpid()));
  auto outf = fs::temp_directory_path() / ("twla-cli-out-" + std::to_string(::getpid()));
  std::string cmd = env + " " + TWLA_BINARY + " " + args + " >" + outf.string() + " 2>" + errf.string();
  int st = std::system(cmd.c_str());
  Result r;
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  r.err = twla::read_file(errf.string());
  r.out = twla::read_file(outf.string());
  fs::remove(errf);
  fs::remove(outf);
  return r;
}

using twla::test::temp_dir;

std::string write(const fs::path& p, const std::string& text) {
  std::ofstream(p) << text;
  return p.string();
}

int lines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

std::string stories() { return twla::data_dir() + "/models/stories260K"; }

// One line, "twla run: error: ..." containing every needle.
void check_one_line_error(const Result& r, const std::vector<std::string>& needles) {
  CAPTURE(r.err);
  CHECK(r.code == 1);
  CHECK(lines(r.err) == 1);
  CHECK(r.err.find("error: ") != std::string::npos);
  for (const auto& n : needles) CHECK(r.err.find(n) != std::string::npos);
}
}  // namespace

TEST_CASE("cli: bad input gives one clear line", "[cli]") {
  auto d = temp_dir("cli-bad");
  std::string base = "model: {path: " + stories() + "}\neval: {tasks: [tinystories], seqlen: 64, max_windows: 2}\noutput: " + d.string() + "\n";
  check_one_line_error(run_twla("run " + write(d / "a.yaml", base + "quantiser: rtn\n")),
                       {"quantiser", "did you mean 'quantizer'"});
  check_one_line_error(run_twla("run " + write(d / "b.yaml", base + "calibration: {nsamples: many}\n")),
                       {"calibration.nsamples", "an integer"});
  check_one_line_error(run_twla("run " + write(d / "c.yaml", "model: {path: /no/such/model}\n")),
                       {"/no/such/model"});
  check_one_line_error(run_twla("run " + (d / "missing.yaml").string()), {"missing.yaml", "does not exist"});
  check_one_line_error(run_twla("run " + write(d / "e.yaml", base + "quantizer: {name: rtn, bits: 12}\n")),
                       {"quantizer.bits"});
  // A truncated safetensors file (a copy: ../shared is read-only).
  auto m = d / "model";
  fs::create_directories(m);
  for (auto f : {"config.json", "tokenizer.model", "tokenizer_config.json"})
    fs::copy_file(stories() + "/" + f, m / f);
  std::string st = twla::read_file(stories() + "/model.safetensors");
  write(m / "model.safetensors", st.substr(0, 5000));
  check_one_line_error(run_twla("eval --model " + m.string() + " --tasks tinystories --out " + d.string()),
                       {"model.safetensors"});
  // A missing data file: a data dir that holds the model but no datasets.
  auto dd = d / "data-dir";
  fs::create_directories(dd / "models");
  fs::copy(stories(), dd / "models" / "stories260K");
  check_one_line_error(
      run_twla("eval --data-dir " + dd.string() + " --model " + (dd / "models/stories260K").string() +
           " --tasks wikitext2 --out " + d.string()),
      {"wiki.test.raw", "--data-dir"});
  fs::remove_all(d);
}

TEST_CASE("cli: twla COMMAND --help prints a usage and exits 0 for every command", "[cli]") {
  // main's usage promises `twla <command> --help`; commands with a required argument once failed on it.
  for (const std::string c : {"run", "sweep", "pack", "eval", "describe", "show", "report", "check-golden",
                              "plot", "bench", "bench kernels", "bench quantize", "bench rotate",
                              "bench allocate", "cache"}) {
    auto r = run_twla(c + " --help");
    CAPTURE(c, r.out, r.err);
    CHECK(r.code == 0);
    CHECK(r.out.find("usage: twla " + c.substr(0, c.find(' '))) != std::string::npos);
  }
}

TEST_CASE("cli: twla plot hist/loss errors name the layer or the missing stats", "[cli]") {
  auto d = temp_dir("cli-plot");
  twla::RunRecord r;
  r.run_id = "0123456789ab";
  r.name = "w158a4-none";
  r.layers.push_back(twla::LayerRecord{"layers.0.mlp.up_proj", 0});
  const std::string f = (d / "results.h5").string();
  twla::write_run(f, r);
  check_one_line_error(run_twla("plot hist " + f + " --layer layers.0.mlp.up_proj"),
                       {"has no rotation weight histograms", "rotation: hadamard or kotms"});
  check_one_line_error(run_twla("plot loss " + f), {"has no rotation loss curves"});
  check_one_line_error(run_twla("plot bits " + f + " --layer layers.0.mlp.up_proj"),
                       {"takes no --layer"});
  check_one_line_error(run_twla("plot hist " + f + " --layer"), {"--layer needs a linear name"});
  r.series["rotation_hist/edges"] = {-5, 0, 5};
  r.series["rotation_hist/before/layers.0.mlp.up_proj"] = {4, 6};
  r.series["rotation_hist/after/layers.0.mlp.up_proj"] = {5, 5};
  twla::write_run(f, r);
  check_one_line_error(run_twla("plot hist " + f + " --layer layers.0.mlp.upp_proj"),
                       {"has no layer 'layers.0.mlp.upp_proj'", "did you mean 'layers.0.mlp.up_proj'"});
  fs::remove_all(d);
}

TEST_CASE("cli: a run killed before its results are written leaves nothing half-written", "[cli]") {
  auto d = temp_dir("cli-kill");
  std::string desc = write(d / "k.yaml", "name: k\nmodel: {path: " + stories() +
                                             "}\nquantizer: ternary-absmean\neval: {tasks: [tinystories], "
                                             "seqlen: 64, max_windows: 4}\noutput: " + d.string() + "\n");
  auto killed = run_twla("run " + desc, "TWLA_TEST_KILL_BEFORE_WRITE=k");
  CHECK(killed.code == 128 + SIGKILL);
  CHECK(!fs::exists(d / "k" / "results.h5"));
  auto again = run_twla("run " + desc);
  CHECK(again.code == 0);
  auto r = twla::read_run((d / "k" / "results.h5").string());
  CHECK(r.status == "done");
  CHECK(r.metrics.count("ppl/tinystories") == 1);
  fs::remove_all(d);
}

TEST_CASE("cli: a calibrated run killed after block k resumes to identical results", "[cli][resume]") {
  auto d = temp_dir("cli-resume");
  auto desc = [&](const std::string& name) {
    return write(d / (name + ".yaml"),
                 "name: " + name + "\nmodel: {path: " + stories() +
                     "}\nquantizer: {name: gptq, bits: 3}\ncalibration: {nsamples: 4, seqlen: 64}\n"
                     "eval: {tasks: [tinystories], seqlen: 64, max_windows: 4}\noutput: " +
                     d.string() + "\n");
  };
  // The stage cache would hand run b run a's weights: this test is about block checkpoints.
  auto whole = run_twla("run " + desc("a") + " --cache off");
  REQUIRE(whole.code == 0);
  auto killed = run_twla("run " + desc("b") + " --cache off", "TWLA_TEST_KILL_AFTER_BLOCK=1");
  CHECK(killed.code == 128 + SIGKILL);
  CHECK(fs::exists(d / "b" / "ckpt" / "block_1.safetensors"));
  CHECK(!fs::exists(d / "b" / "ckpt" / "block_2.safetensors"));
  CHECK(!fs::exists(d / "b" / "results.h5"));
  auto resumed = run_twla("run " + desc("b") + " --cache off");
  REQUIRE(resumed.code == 0);
  auto ra = twla::read_run((d / "a" / "results.h5").string());
  auto rb = twla::read_run((d / "b" / "results.h5").string());
  CHECK(ra.metrics == rb.metrics);
  // Packed weights bit-identical (the checkpoints' timing fields naturally differ).
  for (int blk = 0; blk < 5; ++blk) {
    std::string f = "/ckpt/block_" + std::to_string(blk) + ".safetensors";
    twla::SafetensorsFile fa((d / "a").string() + f), fb((d / "b").string() + f);
    REQUIRE(fa.names() == fb.names());
    for (const auto& n : fa.names()) CHECK(at::equal(fa.load_raw(n), fb.load_raw(n)));
  }
  fs::remove_all(d);
}

TEST_CASE("cli: twla eval --limit, --subsample and --dump-requests reach the zero-shot engine", "[cli]") {
  auto d = temp_dir("cli-dump");
  auto count_docs = [](const fs::path& p) {
    std::ifstream in(p);
    std::set<std::string> docs;
    for (std::string line; std::getline(in, line);) docs.insert(nlohmann::json::parse(line).at("id").dump());
    return docs;
  };
  auto r = run_twla("eval --model " + stories() + " --tasks piqa,winogrande --limit 12 --subsample 5 --seed 3" +
                    " --dump-requests " + (d / "req-{task}.jsonl").string() + " --out " + d.string());
  REQUIRE(r.code == 0);
  const auto piqa = count_docs(d / "req-piqa.jsonl");
  CHECK(piqa.size() == 5);
  CHECK(count_docs(d / "req-winogrande.jsonl").size() == 5);
  // Another seed draws other documents from the same first 12.
  auto r2 = run_twla("eval --model " + stories() + " --tasks piqa --limit 12 --subsample 5 --seed 4" +
                     " --dump-requests " + (d / "other-{task}.jsonl").string() + " --out " + d.string());
  REQUIRE(r2.code == 0);
  CHECK(count_docs(d / "other-piqa.jsonl") != piqa);
  fs::remove_all(d);
}

TEST_CASE("cli: twla pack, then twla eval --model PACKED; a damaged pack gives one line", "[cli][pack]") {
  auto d = temp_dir("cli-pack");
  std::string desc = write(d / "p.yaml", "name: p\nmodel: {path: " + stories() +
                                             "}\nquantizer: ternary-absmean\nactivations: {bits: 4}\noutput: " +
                                             d.string() + "\n");
  const std::string packed = (d / "packed").string();
  auto p = run_twla("pack " + desc + " --out " + packed + " --cache off");
  CAPTURE(p.err);
  REQUIRE(p.code == 0);
  CHECK(fs::exists(packed + "/model.safetensors"));
  CHECK(fs::exists(packed + "/config.json"));
  CHECK(fs::exists(packed + "/tokenizer.model"));
  CAPTURE(p.out);
  CHECK(p.out.find("x smaller); linears: 35 tq2") != std::string::npos);
  // Unquantized: stories260K's fp32 tensors as stored, larger than fp16, and the line says so.
  auto f = run_twla("pack " + desc + " quantizer=fp --out " + packed + "-fp --cache off");
  CAPTURE(f.err, f.out);
  REQUIRE(f.code == 0);
  CHECK(f.out.find("x larger)") != std::string::npos);
  const std::string eval = "eval --model " + packed + " --tasks tinystories --seqlen 64 --max-windows 4 --out " + d.string();
  auto e = run_twla(eval);
  CAPTURE(e.err);
  REQUIRE(e.code == 0);
  auto r = twla::read_run((d / "eval-packed" / "results.h5").string());
  CHECK(r.labels.at("backend") == "kernel: 35 tq2, 0 dequantized");
  CHECK(r.labels.at("method") == "ternary-absmean");
  CHECK(r.metrics.count("ppl/tinystories") == 1);
  // The same pack on the CUDA kernels: where a GPU is usable the same perplexity within 0.5%,
  // where none is one line that says why and names the CPU backend.
  auto c = run_twla(eval + " --backend kernel-cuda --name cu");
  if (twla::kernels::cuda::device_status().empty()) {
    CAPTURE(c.err);
    REQUIRE(c.code == 0);
    auto rc = twla::read_run((d / "cu" / "results.h5").string());
    CHECK(rc.labels.at("backend") == "kernel-cuda: 35 tq2 (cuda), 0 dequantized");
    CHECK(std::abs(rc.metrics.at("ppl/tinystories") - r.metrics.at("ppl/tinystories")) <
          0.005 * r.metrics.at("ppl/tinystories"));
  } else {
    check_one_line_error(c, {"backend kernel-cuda: ", "backend: kernel"});
  }
  check_one_line_error(run_twla(eval + " --backend gpu"), {"'backend' is 'gpu'", "kernel-cuda"});
  fs::resize_file(packed + "/model.safetensors", 3000);
  check_one_line_error(run_twla(eval), {"packed model", "truncated", "twla pack"});
  fs::remove_all(d);
}

TEST_CASE("cli: twla allocate lists ila-amp's work list and refuses bad shards", "[cli]") {
  auto d = temp_dir("cli-allocate");
  const std::string desc = write(d / "a.yaml", "name: a\nmodel: {path: " + stories() + "}\noutput: " + d.string() +
                                                   "\nactivations: {bits: 4, allocator: {name: ila-amp, "
                                                   "candidates: [2, 4, 8]}}\n");
  auto r = run_twla("allocate " + desc + " --list --shards 2");
  CAPTURE(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out.find("\"evaluations\":27,\"groups\":10") != std::string::npos);   // 1 + 5*2 + 4*4
  CHECK(r.out.find("\"shards\":2,\"shard_blocks\":[40,40]") != std::string::npos);
  CHECK(r.out.find("{\"id\":26,\"kind\":\"pair\"") != std::string::npos);
  CHECK(nlohmann::json::parse(r.out).at("jobs").size() == 27);
  check_one_line_error(run_twla("allocate " + desc + " --shard 3/2"), {"--shard 3/2", "K must be in 1..N"});
  check_one_line_error(run_twla("allocate " + desc + " --list --shards 11"), {"--shards=11", "give 1..10 shards"});
  const std::string uni = write(d / "u.yaml", "name: u\nmodel: {path: " + stories() + "}\noutput: " + d.string() + "\n");
  check_one_line_error(run_twla("allocate " + uni + " --list"), {"only ila-amp has a work list"});
  fs::remove_all(d);
}
