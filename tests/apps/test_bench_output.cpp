// tests/apps/test_bench_output.cpp: the benches' --h5 files (bench/bench_output.h): the JSON's
// leaves become metrics / labels / series of a twla run file, and `twla bench kernels` with two
// shapes writes JSON and HDF5 that hold the same figures; `--cuda` keeps tq2_cuda_check's verdict.
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "bench/bench_output.h"
#include "core/fs.h"
#include "kernels/cuda/device_linear.h"
#include "results/run_file.h"
#include "tests/catch.h"
#include "tests/support/util.h"

namespace fs = std::filesystem;
using twla::RunRecord;

TEST_CASE("bench output: JSON leaves map to metrics, labels and series by key path") {
  nlohmann::json j = nlohmann::json::parse(R"({
    "figures": {"tq2_a4_b1": {"ms": 1.5, "gbps": 30}}, "avx2": true, "loadavg": {"start": "0.5 0.4 0.3"},
    "allocation": [4, 4, 6], "runs": [{"q_hash": "ab12", "s": 2.0}]})");
  std::string a0 = "--threads", a1 = "2", a2 = "--shape", a3 = "64x64";
  char* argv[] = {a0.data(), a1.data(), a2.data(), a3.data()};   // as twla bench passes them
  RunRecord r = twla::bench::bench_record("kernels", j, 4, argv);
  CHECK(r.name == "bench-kernels");
  CHECK(r.status == "bench");
  CHECK(r.metrics.at("figures/tq2_a4_b1/ms") == 1.5);
  CHECK(r.metrics.at("figures/tq2_a4_b1/gbps") == 30);
  CHECK(r.metrics.at("avx2") == 1);
  CHECK(r.labels.at("loadavg/start") == "0.5 0.4 0.3");
  CHECK(r.series.at("allocation") == std::vector<double>{4, 4, 6});
  CHECK(r.labels.at("runs/0/q_hash") == "ab12");
  CHECK(r.metrics.at("runs/0/s") == 2.0);
  REQUIRE(r.config_flat.size() == 1);
  CHECK(r.config_flat[0].second == "twla bench kernels --threads 2 --shape 64x64");
}

TEST_CASE("bench output: twla bench kernels --json and --h5 hold the same figures, per shape") {
  const fs::path dir = twla::test::temp_dir("bench-out");
  const std::string js = (dir / "k.json").string(), h5 = (dir / "k.h5").string();
  const std::string cmd = std::string(TWLA_BINARY) + " bench kernels --shape 64x256,96x384 --batch 1,20 --threads 1 " +
                          "--min-time 0.01 --pool-mib 1 --json " + js + " --h5 " + h5 + " >" + (dir / "log").string() + " 2>&1";
  const int st = std::system(cmd.c_str());
  INFO(twla::read_file((dir / "log").string()));
  REQUIRE(WIFEXITED(st));
  REQUIRE(WEXITSTATUS(st) == 0);
  const nlohmann::json j = nlohmann::json::parse(twla::read_file(js));
  const RunRecord r = twla::read_run(h5);
  CHECK(r.status == "bench");
  int n = 0;
  for (const char* shape : {"64x256", "96x384"})
    for (const char* b : {"_b1", "_b20"})
      for (const char* k : {"openblas_sgemv", "openblas_sgemm", "tq2_f32", "tq2_a8", "tq2_a4", "e2m_f32", "e2m_a4"}) {
        const std::string key = std::string(k) + "_" + shape + b;
        if (!j["figures"].contains(key)) continue;
        ++n;
        CAPTURE(key);
        CHECK(r.metrics.at("figures/" + key + "/ms") == j["figures"][key]["ms"].get<double>());
        CHECK(r.metrics.at("figures/" + key + "/speedup_vs_blas") > 0);
      }
  CHECK(n == 2 * (6 + 6));   // per shape: batch 1 (sgemv + 5 kernels) and batch 20 (sgemm + 5)
  CHECK(r.series.at("shapes/96x384/shape") == std::vector<double>{96, 384});
  fs::remove_all(dir);
}

TEST_CASE("bench output: twla bench kernels --cuda runs tq2_cuda_check and keeps its verdict, GPU or not") {
  const fs::path dir = twla::test::temp_dir("bench-cuda");
  const std::string js = (dir / "c.json").string(), h5 = (dir / "c.h5").string(), log = (dir / "log").string();
  const std::string cmd = std::string(TWLA_BINARY) + " bench kernels --cuda --quick --no-bench --json " + js + " --h5 " +
                          h5 + " >" + log + " 2>&1";
  const int st = std::system(cmd.c_str());
  const std::string out = twla::read_file(log);
  INFO(out);
  REQUIRE(WIFEXITED(st));
  const int rc = WEXITSTATUS(st);
  const bool built = fs::exists(fs::path(TWLA_BINARY).parent_path() / "kernels" / "tq2_cuda_check");
  if (!built) {   // a build without nvcc or cuBLAS: one clear line
    CHECK(rc != 0);
    CHECK(out.find("no tq2_cuda_check at") != std::string::npos);
    return;
  }
  const RunRecord r = twla::read_run(h5);
  const nlohmann::json j = nlohmann::json::parse(twla::read_file(js));
  CHECK(r.labels.at("status") == j["status"].get<std::string>());
  if (twla::kernels::cuda::device_status().empty()) {   // a GPU: the validation must pass
    CHECK(rc == 0);
    CHECK(r.labels.at("status") == "ok");
    CHECK(r.metrics.at("failures") == 0);
    CHECK(r.metrics.at("checks") > 0);
  } else {   // none: the check's own refusal, kept
    CHECK(rc == 2);
    CHECK(r.labels.at("status") == "CUDA/cuBLAS error");
    CHECK(!r.labels.at("error").empty());
  }
  fs::remove_all(dir);
}
