// bench/kernels_cuda_bench.cpp: see kernels_cuda_bench.h.
#include "bench/kernels_cuda_bench.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench/bench_output.h"
#include "bench/flags.h"
#include "core/fs.h"
#include "core/paths.h"

namespace twla::bench {
namespace {
const char* kUsage = "usage: twla bench kernels --cuda [--quick] [--no-bench] [--json FILE] [--h5 FILE] [--check PATH]";

std::string shell_quoted(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::string find_check(const std::string& given) {
  std::vector<std::string> candidates;
  if (!given.empty()) candidates.push_back(given);
  else if (const char* env = std::getenv("TWLA_CUDA_CHECK"); env && *env) candidates.push_back(env);
  else
    for (const char* rel : {"/kernels/tq2_cuda_check", "/tq2_cuda_check"}) candidates.push_back(executable_dir() + rel);
  for (const auto& c : candidates)
    if (::access(c.c_str(), X_OK) == 0) return c;
  TWLA_FAIL("twla bench kernels --cuda: no tq2_cuda_check at ", candidates.front(),
            (candidates.size() > 1 ? " or " + candidates.back() : std::string()),
            "; it is built with twla where CMake found nvcc and cuBLAS (or by scripts/gpu-check.sh build); "
            "pass --check PATH or set TWLA_CUDA_CHECK");
}
}  // namespace

int bench_kernels_cuda(int argc, char** argv) {
  std::string json, h5, check;
  bool quick = false, no_bench = false;
  Flags f(argc, argv, "kernels --cuda", kUsage);
  while (f.next()) {
    if (f.is("--cuda")) continue;
    else if (f.is("--threads")) f.i32();   // every bench gets twla's --threads; the GPU check has no use for it
    else if (f.is("--quick")) quick = true;
    else if (f.is("--no-bench")) no_bench = true;
    else if (f.is("--json")) json = f.str();
    else if (f.is("--h5")) h5 = f.str();
    else if (f.is("--check")) check = f.str();
    else f.unknown();
  }
  const std::string bin = find_check(check);
  const std::string tmp = std::filesystem::temp_directory_path().string() + "/twla-cuda-check-" +
                          std::to_string(::getpid()) + ".json";
  std::string cmd = shell_quoted(bin) + " --json " + shell_quoted(tmp);
  if (quick) cmd += " --quick";
  if (no_bench) cmd += " --no-bench";
  std::cout << "running " << cmd << "\n" << std::flush;
  const int st = std::system(cmd.c_str());
  const int rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
  if (file_exists(tmp)) {   // written also after a failed validation or a CUDA error
    const nlohmann::json j = nlohmann::json::parse(read_file(tmp));
    std::filesystem::remove(tmp);
    write_bench_files("kernels", j, json, h5, argc, argv, "bench-kernels-cuda");
  } else {
    std::cerr << "twla bench kernels --cuda: " << bin << " wrote no JSON (exit " << rc << ")\n";
  }
  return rc;
}

}  // namespace twla::bench
