// apps/cmd_allocate.cpp: `twla allocate`: ILA-AMP's evaluation work list (--list) and one shard
// of it measured into the run dir (--shard k/n), for farming out (experiments/allocation_farm.h).
#include <boost/program_options.hpp>

#include <iostream>
#include <regex>

#include "apps/commands.h"
#include "apps/flags.h"
#include "core/error.h"
#include "core/fs.h"
#include "experiments/allocation_farm.h"
#include "experiments/pipeline.h"
#include "experiments/sweep.h"

namespace po = boost::program_options;

namespace twla::cli {

int cmd_allocate(const Args& a) {
  const char* usage =
      "twla allocate exp.yaml [key.sub=value ...] (--list [--shards N] [--json FILE] | --shard K/N) "
      "[--out DIR] [--cache DIR|off]";
  po::options_description desc("twla allocate");
  std::string file, out, cache, shard, json;
  int shards = 0;
  std::vector<std::string> overrides;
  desc.add_options()("help,h", "this help")(
      "descriptor", po::value(&file)->required(), "experiment descriptor (YAML), one run")(
      "set", po::value(&overrides)->multitoken(), "overrides key.sub=value (also positional)")(
      "list", "print the work list (JSON: jobs, their shard and predicted block forwards)")(
      "shards", po::value(&shards), "--list: split into N shards (default activations.allocator.shards)")(
      "json", po::value(&json), "--list: write the JSON to FILE (atomically) instead of stdout")(
      "shard", po::value(&shard),
      "measure shard K of N (1-based) into <run dir>/allocation/shard-K-of-N.json; the run uses it")(
      "out", po::value(&out), "output folder (overrides `output:`)")(
      "cache", po::value(&cache), "stage cache folder, or off (default $TWLA_CACHE or <output>/.cache)");
  po::positional_options_description pos;
  pos.add("descriptor", 1).add("set", -1);
  po::variables_map vm = parse_flags(a, desc, pos, usage);
  TWLA_CHECK(vm.count("list") + vm.count("shard") == 1, "twla allocate: give --list or --shard K/N; usage: ", usage);
  if (!out.empty()) overrides.push_back("output=" + out);
  YAML::Node sweep;
  YAML::Node base = load_descriptor_tree(file, overrides, &sweep);
  auto runs = expand_sweep(base, sweep);
  TWLA_CHECK(runs.size() == 1, file, ": its sweep has ", runs.size(),
             " runs; twla allocate works on one run: pick it with key=value overrides, or give the "
             "sweep's .sweep/runs/<i>.yaml");
  if (vm.count("list")) {
    const std::string text = allocation_work_list(runs[0].tree, shards);
    if (json.empty()) std::cout << text;
    else write_file_atomic(json, text);
    return 0;
  }
  std::smatch m;
  static const std::regex re("([0-9]+)/([0-9]+)");
  TWLA_CHECK(std::regex_match(shard, m, re), "--shard '", shard, "': give K/N, e.g. --shard 3/8");
  RunOptions opt;
  opt.cache_dir = cache;
  opt.alloc_shard = std::stoi(m[1].str()) - 1;
  opt.alloc_shards = std::stoi(m[2].str());
  TWLA_CHECK(opt.alloc_shards >= 1 && opt.alloc_shard >= 0 && opt.alloc_shard < opt.alloc_shards, "--shard ",
             shard, ": K must be in 1..N and N >= 1");
  run_experiment(runs[0].tree, opt);
  return 0;
}

}  // namespace twla::cli
