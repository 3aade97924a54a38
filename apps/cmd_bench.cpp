// apps/cmd_bench.cpp: `twla bench kernels|quantize|rotate|allocate [flags]`, the speed checks in bench/. Thin: it
// forwards the flags (and the global --threads, which apply_global_flags consumed) to the bench.
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
  TWLA_CHECK(!a.empty() && (a[0] == "kernels" || a[0] == "quantize" || a[0] == "rotate" ||
                             a[0] == "allocate"),
             "twla bench needs a target; usage: twla bench kernels [--shape OCxIC] ",
             "[--batch 1,4,16] [--threads N] [--json FILE] [--min-time S] [--pool-mib M]; ",
             "twla bench quantize [--shape OCxIC] [--threads N] [--thread-counts 1,2] [--stats-threads 1] ",
             "[--json FILE] [--seqs 16] [--tokens 2048]; ",
             "twla bench rotate [--tokens 2048] [--sizes 4096,11008] [--threads N] [--json FILE]; ",
             "twla bench allocate [--layers L] [--windows 8] [--seqlen 128] [--workers N] [--json FILE]");
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
