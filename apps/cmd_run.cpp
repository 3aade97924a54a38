// apps/cmd_run.cpp: `twla run`, `twla eval` and the global flags.
#include <boost/program_options.hpp>

#include <filesystem>

#include <iostream>

#include "apps/commands.h"
#include "apps/flags.h"
#include "core/paths.h"
#include "core/progress.h"
#include "core/tensor.h"
#include "experiments/pipeline.h"
#include "experiments/sweep.h"
#include "results/report.h"

namespace po = boost::program_options;

namespace twla::cli {

void apply_global_flags(Args& a) {
  Args rest;
  for (size_t i = 0; i < a.size(); ++i) {
    auto value = [&](const std::string& flag) {
      TWLA_CHECK(i + 1 < a.size(), flag, " needs a value");
      return a[++i];
    };
    if (a[i] == "--data-dir") set_data_dir(value("--data-dir"));
    else if (starts_with(a[i], "--data-dir=")) set_data_dir(a[i].substr(11));
    else if (a[i] == "--threads") set_threads(std::stoi(value("--threads")));
    else if (starts_with(a[i], "--threads=")) set_threads(std::stoi(a[i].substr(10)));
    else if (a[i] == "--quiet") Progress::set_quiet(true);
    else rest.push_back(a[i]);
  }
  a = rest;
}

namespace {
int run_trees(const std::vector<SweepRun>& runs, const RunOptions& opt, bool quiet) {
  std::vector<RunRecord> records;
  for (size_t i = 0; i < runs.size(); ++i) {
    if (!quiet && runs.size() > 1) std::cerr << "== run " << i + 1 << "/" << runs.size() << ": " << runs[i].name << "\n";
    records.push_back(run_experiment(runs[i].tree, opt));
  }
  std::cout << report_markdown(records);
  return 0;
}
}  // namespace

int cmd_run(const Args& a) {
  po::options_description desc("twla run");
  std::string file, out, cache;
  std::vector<std::string> overrides;
  desc.add_options()("help,h", "this help")(
      "descriptor", po::value(&file)->required(), "experiment descriptor (YAML)")(
      "set", po::value(&overrides)->multitoken(), "overrides key.sub=value (also positional)")(
      "out", po::value(&out), "output folder (overrides `output:`)")(
      "force", "recompute runs whose results.h5 already exists")(
      "cache", po::value(&cache), "stage cache folder, or off (default $TWLA_CACHE or <output>/.cache)")(
      "plan", "list the runs the sweep expands to, and stop");
  po::positional_options_description pos;
  pos.add("descriptor", 1).add("set", -1);
  auto vm = parse_flags(a, desc, pos, "twla run exp.yaml [key.sub=value ...] [--out DIR] [--force] [--cache DIR|off] [--plan]");
  if (!out.empty()) overrides.push_back("output=" + out);
  YAML::Node sweep;
  YAML::Node base = load_descriptor_tree(file, overrides, &sweep);
  auto runs = expand_sweep(base, sweep);
  if (vm.count("plan")) {
    for (const auto& r : runs) {
      YAML::Node resolved;
      parse_descriptor(r.tree, &resolved);
      std::cout << run_id(resolved) << "  " << r.name << "\n";
    }
    return 0;
  }
  RunOptions opt;
  opt.force = vm.count("force") > 0;
  opt.cache_dir = cache;
  return run_trees(runs, opt, false);
}

int cmd_eval(const Args& a) {
  po::options_description desc("twla eval");
  std::string model, tasks = "wikitext2", out = "runs", name, dump, backend;
  int seqlen = 2048, max_windows = -1, batch = 4, limit = -1, subsample = -1, seed = 0;
  desc.add_options()("help,h", "this help")(
      "model", po::value(&model)->required(), "Hugging Face model folder, or a packed one (twla pack: runs on the kernels)")(
      "tasks", po::value(&tasks), "comma-separated: wikitext2,c4,tinystories,text:PATH,piqa,hellaswag,...")(
      "seqlen", po::value(&seqlen), "perplexity window")(
      "max-windows", po::value(&max_windows), "at most this many windows per dataset")(
      "batch", po::value(&batch), "windows per batch")(
      "limit", po::value(&limit), "zero-shot: first N documents per task")(
      "subsample", po::value(&subsample), "zero-shot: then N random documents per task (seeded)")(
      "seed", po::value(&seed), "zero-shot: seed of --subsample")(
      "dump-requests", po::value(&dump),
      "zero-shot: JSONL of every request ({task} in the name = one file per task)")(
      "backend", po::value(&backend),
      "fake, kernel or kernel-cuda (default: kernel for a packed model, else fake)")(
      "out", po::value(&out), "output folder")("name", po::value(&name), "run name");
  po::positional_options_description pos;
  auto vm = parse_flags(a, desc, pos, "twla eval --model DIR [--tasks wikitext2,c4] [--seqlen N] [--backend kernel-cuda]");
  YAML::Node tree(YAML::NodeType::Map);
  tree["name"] = name.empty() ? "eval-" + std::filesystem::path(model).filename().string() : name;
  tree["model"]["path"] = model;
  YAML::Node t(YAML::NodeType::Sequence);
  for (const auto& s : split(tasks, ',')) t.push_back(s);
  tree["eval"]["tasks"] = t;
  tree["eval"]["seqlen"] = seqlen;
  tree["eval"]["max_windows"] = max_windows;
  tree["eval"]["batch"] = batch;
  tree["eval"]["limit"] = limit;
  tree["eval"]["subsample"] = subsample;
  tree["eval"]["subsample_seed"] = seed;
  if (!dump.empty()) tree["eval"]["dump_requests"] = dump;
  tree["output"] = out;
  if (!backend.empty()) tree["backend"] = backend;
  return run_trees({{tree["name"].as<std::string>(), tree}}, RunOptions{}, false);
}

}  // namespace twla::cli
