// tests/apps/test_sweep_cli.cpp: `twla sweep` with the local backend, through the real binary:
// a worker killed with SIGKILL fails only its own run; status names it; resume reruns only it,
// leaves the finished results.h5 files untouched, and ends with metrics identical to a sweep
// that was never interrupted.
#include <sys/wait.h>

#include <filesystem>
#include <fstream>

#include "core/fs.h"
#include "core/paths.h"
#include "results/run_file.h"
#include "tests/catch.h"

namespace fs = std::filesystem;

namespace {
struct Out {
  int code = -1;
  std::string out;
};

Out twla_cmd(const std::string& args, const std::string& env = "") {
  auto f = fs::temp_directory_path() / ("twla-sweep-out-" + std::to_string(::getpid()));
  int st = std::system((env + " " + TWLA_BINARY + " " + args + " >" + f.string() + " 2>&1").c_str());
  Out o{WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), twla::read_file(f.string())};
  fs::remove(f);
  return o;
}
}  // namespace

TEST_CASE("sweep: kill -9 of a local worker, then resume: nothing lost, same metrics", "[cli][sweep]") {
  auto d = fs::temp_directory_path() / ("twla-sweep-kill-" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  std::string yaml = (d / "s.yaml").string();
  std::ofstream(yaml) << "name: s\nmodel: {path: " << twla::data_dir() << "/models/stories260K}\n"
                      << "threads: 1\nquantizer: ternary-absmean\n"
                      << "eval: {tasks: [tinystories], seqlen: 64, max_windows: 4, batch: 4}\n"
                      << "output: " << (d / "a").string() << "\n"
                      << "sweep: {grid: {activations.bits: [16, 8, 6, 4]}}\n";
  auto plan = twla_cmd("sweep plan " + yaml);
  REQUIRE(plan.code == 0);
  CHECK(plan.out.find("4 runs") != std::string::npos);

  auto killed = twla_cmd("sweep run " + yaml + " --workers 2", "TWLA_TEST_KILL_BEFORE_WRITE=s-6");
  CAPTURE(killed.out);
  CHECK(killed.code == 1);
  CHECK(killed.out.find("FAILED (signal 9)") != std::string::npos);
  CHECK(!fs::exists(d / "a" / "s-6" / "results.h5"));
  auto status = twla_cmd("sweep status " + yaml);
  CHECK(status.out.find("4 runs: 3 done, 1 failed (signal 9)") != std::string::npos);
  std::map<std::string, std::string> before;
  for (const char* n : {"s-16", "s-8", "s-4"})
    before[n] = twla::sha256_file((d / "a" / n / "results.h5").string());

  auto resumed = twla_cmd("sweep resume " + yaml);
  CAPTURE(resumed.out);
  CHECK(resumed.code == 0);
  CHECK(resumed.out.find("1 of 4 runs to run") != std::string::npos);
  CHECK(resumed.out.find("4 runs: 4 done") != std::string::npos);
  for (const auto& [n, sha] : before) CHECK(twla::sha256_file((d / "a" / n / "results.h5").string()) == sha);

  // The same sweep, never interrupted and without the stage cache: identical metrics.
  auto clean = twla_cmd("sweep run " + yaml + " output=" + (d / "b").string() + " --cache off");
  REQUIRE(clean.code == 0);
  for (const char* n : {"s-16", "s-8", "s-6", "s-4"}) {
    CAPTURE(n);
    auto ra = twla::read_run((d / "a" / n / "results.h5").string());
    auto rb = twla::read_run((d / "b" / n / "results.h5").string());
    CHECK(ra.run_id == rb.run_id);
    CHECK(ra.metrics == rb.metrics);
  }
  CHECK(!fs::exists(d / "b" / ".cache"));
  fs::remove_all(d);
}
