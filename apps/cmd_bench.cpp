// apps/cmd_bench.cpp: `twla bench kernels|quantize|rotate|allocate [flags]`, the speed checks in bench/. Thin: it
// forwards the flags (and the global --threads, which apply_global_flags consumed) to the bench.
#include <iostream>
#include <string>
#include <vector>

#include "apps/commands.h"
#include "bench/allocate_bench.h"
#include "bench/kernels_bench.h"
#include "bench/quantize_bench.h"
#include "bench/rotate_bench.h"
#include "core/error.h"
#include "core/tensor.h"

namespace twla::cli {

int cmd_bench(const Args& a) {
  // Each bench's own usage line (bench/*.cpp) lists all its flags: `twla bench TARGET --help`.
  const char* usage = "usage: twla bench kernels|quantize|rotate|allocate [flags]; "
                      "twla bench TARGET --help lists its flags";
  if (!a.empty() && (a[0] == "--help" || a[0] == "-h")) {
    std::cout << usage << "\n";
    return 0;
  }
  TWLA_CHECK(!a.empty() && (a[0] == "kernels" || a[0] == "quantize" || a[0] == "rotate" ||
                             a[0] == "allocate"),
             "twla bench needs a target; ", usage);
  std::vector<std::string> args{"--threads", std::to_string(get_threads())};
  args.insert(args.end(), a.begin() + 1, a.end());
  std::vector<char*> argv;
  for (auto& s : args) argv.push_back(s.data());
  if (a[0] == "rotate") return bench::bench_rotate(int(argv.size()), argv.data());
  if (a[0] == "allocate") return bench::bench_allocate(int(argv.size()), argv.data());
  return a[0] == "kernels" ? bench::bench_kernels(int(argv.size()), argv.data())
                           : bench::bench_quantize(int(argv.size()), argv.data());
}

}  // namespace twla::cli
