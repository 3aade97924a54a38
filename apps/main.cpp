// apps/main.cpp: `twla <command> ...` — dispatch and the one place errors become one-line messages.
#include <exception>
#include <functional>
#include <iostream>
#include <map>

#include <ATen/ATen.h>
#include <cstdlib>
#include <unistd.h>

#include "apps/commands.h"
#include "core/error.h"
#include "core/runtime.h"
#include "core/strings.h"

namespace {
struct Command {
  std::function<int(const twla::cli::Args&)> fn;
  const char* help;
};

const std::map<std::string, Command>& commands() {
  using namespace twla::cli;
  static const std::map<std::string, Command> c{
      {"run", {cmd_run, "run an experiment descriptor (and its sweep): twla run exp.yaml [key=value ...]"}},
      {"sweep", {cmd_sweep, "a whole study, locally or on Slurm: twla sweep plan|run|status|resume|bench exp.yaml [--backend slurm]"}},
      {"allocate", {cmd_allocate, "farm out ila-amp's evaluations: twla allocate exp.yaml --list | --shard K/N"}},
      {"cache", {cmd_cache, "a stage cache's entries, and pruning them: twla cache list|prune [DIR] [--stage S] [--older-than DAYS]"}},
      {"pack", {cmd_pack, "write a quantized model packed for the kernels: twla pack exp.yaml --out DIR"}},
      {"eval", {cmd_eval, "evaluate a model alone: twla eval --model DIR --tasks wikitext2,c4"}},
      {"describe", {cmd_describe, "list plugins and descriptor fields: twla describe [quantizer [rtn]]"}},
      {"show", {cmd_show, "print one result file: twla show runs/x/results.h5"}},
      {"bench", {cmd_bench, "speed checks: twla bench kernels|quantize|rotate|allocate [flags] [--json F]"}},
      {"check-golden", {cmd_check_golden, "run every golden case in a folder: twla check-golden [DIR] (default <data-dir>/golden)"}},
      {"plot", {cmd_plot, "PNG figures of results: twla plot bits|delta|hist|loss RESULTS.h5|DIR ... -o out.png"}},
      {"report", {cmd_report, "table of every run below a folder: twla report runs/ [--latex|--csv] [--paper] [--plots DIR]"}},
  };
  return c;
}

void usage() {
  std::cout << "twla: ternary-weight, 4-bit-activation post-training quantization (TWLA)\n\n"
               "usage: twla <command> [args]   (twla <command> --help for its flags)\n\n";
  for (const auto& [name, c] : commands()) std::cout << "  " << name << std::string(name.size() < 14 ? 14 - name.size() : 1, ' ') << c.help << "\n";
  std::cout << "\nglobal flags: --data-dir DIR (or TWLA_DATA; default ../shared), --threads N, --quiet\n";
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    usage();
    return argc < 2 ? 2 : 0;
  }
  std::string name = argv[1];
  auto it = commands().find(name);
  if (it == commands().end()) {
    std::vector<std::string> names;
    for (const auto& kv : commands()) names.push_back(kv.first);
    std::cerr << "twla: unknown command '" << name << "'" << twla::did_you_mean(name, names) << "\n";
    return 2;
  }
  // libgomp and OpenBLAS read their environment when they load, before main: choose passive
  // waiting and working GEMM kernels (unless the user chose; core/runtime.h) and start again once.
  if (twla::prepare_process_env()) {
    ::execv("/proc/self/exe", argv);  // returns only on failure: then carry on as we are
  }
  // Trained models produce subnormal floats in attention and the MLP, which run ~2x slower on
  // x86. Threads inherit this flag, so set it before ATen starts its thread pool.
  at::globalContext().setFlushDenormal(true);
  twla::cli::Args args(argv + 2, argv + argc);
  try {
    twla::cli::apply_global_flags(args);
    return it->second.fn(args);
  } catch (const twla::Error& e) {
    std::cerr << "twla " << name << ": error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    // libtorch/HDF5/yaml-cpp failures that slipped past our checks: still one line, no trace.
    std::string m = e.what();
    auto nl = m.find('\n');
    std::cerr << "twla " << name << ": error: " << m.substr(0, nl) << "\n";
    return 1;
  }
}
