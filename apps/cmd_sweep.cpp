// apps/cmd_sweep.cpp: `twla sweep plan|run|status|resume DESCRIPTOR` — a whole study, locally
// (a bounded pool of worker processes) or on Slurm (one job array). Wiring only: the plan is
// experiments/sweep_plan.h, the backends runner_local.h and runner_slurm.h (docs/SWEEPS.md).
#include <unistd.h>

#include <boost/program_options.hpp>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <thread>

#include "apps/commands.h"
#include "apps/flags.h"
#include "core/paths.h"
#include "core/strings.h"
#include "experiments/runner_local.h"
#include "experiments/runner_slurm.h"
#include "results/run_file.h"

namespace po = boost::program_options;

namespace twla::cli {

namespace {
const char* kUsage =
    "twla sweep plan|run|status|resume|bench DESCRIPTOR [key.sub=value ...] [--backend local|slurm] "
    "[--workers N] [--partition P] [--time T] [--mem M] [--cpus-per-task N] [--gpus N] [--wait]";

std::string self_exe() {
  std::error_code ec;
  auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  TWLA_CHECK(!ec, "twla sweep: cannot find the twla binary (/proc/self/exe)");
  return p.string();
}

// `twla sweep bench`: the sweep twice through the local pool, stage cache off then on (fresh),
// into <out>/nocache and <out>/cache; validates that every run's metrics agree, then prints the
// times and their ratio (docs/PERFORMANCE.md).
int bench(const std::string& file, std::vector<std::string> overrides, const std::string& out,
          int workers) {
  using Clock = std::chrono::steady_clock;
  std::map<std::string, double> seconds;
  std::map<std::string, std::vector<RunRecord>> runs;
  for (const std::string mode : {"nocache", "cache"}) {
    std::string dir = std::filesystem::absolute(out).string() + "/" + mode;
    std::filesystem::remove_all(dir);
    auto o = overrides;
    o.push_back("output=" + dir);
    SweepPlan plan = write_plan(file, o);
    LocalOptions lo;
    lo.workers = workers;
    lo.twla = self_exe();
    lo.extra = {"--data-dir", std::filesystem::absolute(data_dir()).lexically_normal().string(),
                "--cache", mode == "cache" ? dir + "/.cache" : "off"};
    std::vector<int> all;
    for (const auto& r : plan.runs) all.push_back(r.index);
    auto t0 = Clock::now();
    TWLA_CHECK(run_local(plan, all, lo) == 0, "twla sweep bench: runs failed; see ", plan.dir, "/logs");
    seconds[mode] = std::chrono::duration<double>(Clock::now() - t0).count();
    runs[mode] = read_runs(dir);
  }
  TWLA_CHECK(runs["cache"].size() == runs["nocache"].size(), "twla sweep bench: run counts differ");
  for (size_t i = 0; i < runs["cache"].size(); ++i) {
    const auto &a = runs["cache"][i], &b = runs["nocache"][i];
    TWLA_CHECK(a.run_id == b.run_id && a.metrics == b.metrics, "twla sweep bench: run ", a.name,
               " has different metrics with the cache; a stage key misses a dependency (a bug)");
  }
  std::cout << "| sweep | runs | workers | cache off (s) | cache on (s) | speed-up |\n"
            << "|:--|--:|--:|--:|--:|--:|\n"
            << "| " << file << " | " << runs["cache"].size() << " | " << workers << " | "
            << fixed(seconds["nocache"], 1) << " | " << fixed(seconds["cache"], 1) << " | "
            << fixed(seconds["nocache"] / seconds["cache"], 2) << "x |\n"
            << "validated: every run's metrics identical with and without the cache\n";
  return 0;
}

std::map<int, std::string> states_of(const SweepPlan& plan) {
  auto s = local_states(plan);
  for (const auto& [i, v] : slurm_states(plan)) s[i] = v;  // a later Slurm attempt wins
  return s;
}
}  // namespace

int cmd_sweep(const Args& a) {
  po::options_description desc("twla sweep");
  std::string action, file, backend = "local", cache, bench_out = "runs/sweep-bench";
  std::vector<std::string> overrides;
  int workers = 1, poll = 10;
  SlurmSpec flags;
  desc.add_options()("help,h", "this help")(
      "action", po::value(&action)->required(),
      "plan | run | status | resume | bench (stage cache off vs on, local pool)")(
      "descriptor", po::value(&file)->required(), "experiment descriptor with a sweep: block")(
      "set", po::value(&overrides)->multitoken(), "overrides key.sub=value (also positional)")(
      "backend", po::value(&backend), "local (worker processes here) or slurm (one job array)")(
      "workers", po::value(&workers), "local: runs at once")(
      "cache", po::value(&cache), "stage cache folder, or off (default $TWLA_CACHE or <output>/.cache)")(
      "partition", po::value(&flags.partition), "slurm: --partition (overrides slurm.partition)")(
      "time", po::value(&flags.time), "slurm: --time")("mem", po::value(&flags.mem), "slurm: --mem")(
      "account", po::value(&flags.account), "slurm: --account")("qos", po::value(&flags.qos), "slurm: --qos")(
      "cpus-per-task", po::value(&flags.cpus_per_task), "slurm: --cpus-per-task")(
      "gpus", po::value(&flags.gpus), "slurm: --gpus per run")(
      "max-parallel", po::value(&flags.max_parallel), "slurm: array tasks at once")(
      "wait", "slurm: wait until the submitted jobs leave the queue, then print the status")(
      "poll", po::value(&poll), "slurm --wait: seconds between squeue calls")(
      "bench-out", po::value(&bench_out), "bench: folder for the two copies of the sweep");
  po::positional_options_description pos;
  pos.add("action", 1).add("descriptor", 1).add("set", -1);
  po::variables_map vm = parse_flags(a, desc, pos, kUsage);
  TWLA_CHECK(action == "plan" || action == "run" || action == "status" || action == "resume" ||
                 action == "bench",
             "twla sweep: unknown action '", action, "'",
             did_you_mean(action, {"plan", "run", "status", "resume", "bench"}), "; usage: ", kUsage);
  if (action == "bench") return bench(file, overrides, bench_out, workers);
  TWLA_CHECK(backend == "local" || backend == "slurm", "--backend=", backend,
             " is not a backend; use local or slurm");

  SweepPlan plan = write_plan(file, overrides);
  if (action == "plan") {
    for (const auto& r : plan.runs) std::cout << r.index << "\t" << r.id << "\t" << r.name << "\n";
    std::cout << plan.runs.size() << " runs; per-run descriptors in " << plan.dir << "/runs\n";
    return 0;
  }
  if (action == "status") {
    std::cout << format_status(plan, states_of(plan));
    return 0;
  }
  // run and resume: every run that is neither done nor pending/running, so a second `run` or a
  // `resume` after a kill resubmits exactly the failed and missing runs.
  std::vector<int> todo = runs_to_resume(plan, states_of(plan));
  std::vector<std::string> extra{"--data-dir",
                                 std::filesystem::absolute(data_dir()).lexically_normal().string()};
  if (!cache.empty()) extra.insert(extra.end(), {"--cache", cache});
  std::cerr << "twla sweep: " << todo.size() << " of " << plan.runs.size() << " runs to "
            << (backend == "slurm" ? "submit" : "run") << " (" << plan.dir << ")\n";
  if (todo.empty()) {
    std::cout << format_status(plan, states_of(plan));
    return 0;
  }
  if (backend == "local") {
    LocalOptions o;
    o.workers = workers;
    o.twla = self_exe();
    o.extra = extra;
    int failed = run_local(plan, todo, o);
    std::cout << format_status(plan, states_of(plan));
    return failed == 0 ? 0 : 1;
  }
  SlurmSpec spec = parse_slurm_spec(plan.slurm);
  if (!flags.partition.empty()) spec.partition = flags.partition;
  if (!flags.time.empty()) spec.time = flags.time;
  if (!flags.mem.empty()) spec.mem = flags.mem;
  if (!flags.account.empty()) spec.account = flags.account;
  if (!flags.qos.empty()) spec.qos = flags.qos;
  if (vm.count("cpus-per-task")) spec.cpus_per_task = flags.cpus_per_task;
  if (vm.count("gpus")) spec.gpus = flags.gpus;
  if (vm.count("max-parallel")) spec.max_parallel = flags.max_parallel;
  // Runs whose ila-amp asks for shards: one shard array each first; the runs wait for them.
  const auto shard_jobs = slurm_submit_shards(plan, todo, spec, self_exe(), extra);
  if (!shard_jobs.empty())
    std::cerr << "twla sweep: submitted " << shard_jobs.size() << " allocation shard array(s): "
              << join(shard_jobs, ",") << "\n";
  std::string job = slurm_submit(plan, todo, spec, self_exe(), extra, shard_jobs);
  std::cerr << "twla sweep: submitted job array " << job << " (" << todo.size() << " tasks); "
            << "`twla sweep status " << file << "` shows progress\n";
  if (vm.count("wait")) {
    while (!slurm_live_jobs(plan).empty()) std::this_thread::sleep_for(std::chrono::seconds(poll));
    auto st = states_of(plan);
    std::cout << format_status(plan, st);
    return runs_to_resume(plan, st).empty() ? 0 : 1;
  }
  std::cout << job << "\n";
  return 0;
}

}  // namespace twla::cli
