// bench/allocate_bench.cpp: see allocate_bench.h.
#include "bench/allocate_bench.h"

#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <nlohmann/json.hpp>

#include "allocators/ila_amp_cost.h"
#include "allocators/ila_amp_dp.h"
#include "allocators/ila_amp_farm.h"
#include "allocators/ila_amp_measure.h"
#include "bench/bench_output.h"
#include "bench/flags.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/paths.h"
#include "core/safetensors.h"
#include "core/strings.h"
#include "core/tokenizer.h"
#include "eval/datasets.h"
#include "eval/perplexity.h"
#include "experiments/quant_ops.h"

namespace twla::bench {
namespace {
using Clock = std::chrono::steady_clock;
const char* kUsage =
    "usage: twla bench allocate [--model DIR] [--layers L] [--windows 8] [--seqlen 128] "
    "[--batch 8] [--candidates 2,4,6,8] [--baseline 8] [--avg 4] [--workers N] [--threads N] "
    "[--shards S] [--skip-naive] [--json FILE] [--h5 FILE]";

struct Opts {
  std::string model = "${data}/models/stories260K", json, h5;
  int layers = 0, windows = 8, seqlen = 128, batch = 8, baseline = 8, workers = 0, threads = 1, shards = 0;
  double avg = 4;
  std::vector<int> candidates{2, 4, 6, 8};
  bool naive = true;
};

Opts parse(int argc, char** argv) {
  Opts o;
  Flags f(argc, argv, "allocate", kUsage);
  while (f.next()) {
    if (f.is("--model")) o.model = f.str();
    else if (f.is("--layers")) o.layers = f.i32();
    else if (f.is("--windows")) o.windows = f.i32();
    else if (f.is("--seqlen")) o.seqlen = f.i32();
    else if (f.is("--batch")) o.batch = f.i32();
    else if (f.is("--baseline")) o.baseline = f.i32();
    else if (f.is("--workers")) o.workers = f.i32();
    else if (f.is("--shards")) o.shards = f.i32();
    else if (f.is("--threads")) o.threads = f.i32();
    else if (f.is("--avg")) o.avg = f.f64();
    else if (f.is("--json")) o.json = f.str();
    else if (f.is("--h5")) o.h5 = f.str();
    else if (f.is("--skip-naive")) o.naive = false;
    else if (f.is("--candidates")) {
      o.candidates.clear();
      for (int64_t c : f.list()) o.candidates.push_back(int(c));
    } else f.unknown();
  }
  if (!(o.windows >= 1 && o.seqlen >= 2 && o.batch >= 1 && o.layers >= 0))
    f.fail("--windows, --batch (>= 1), --seqlen (>= 2) and --layers (>= 0) must be positive");
  if (o.workers <= 0) o.workers = std::max(1, o.threads);   // --threads: the global flag
  return o;
}

// A model folder with `layers` blocks, block i a copy of block i mod L0 of `src`.
std::string deepen(const std::string& src, int layers) {
  Model m(src);
  const int L0 = m.n_blocks();
  auto dir = std::filesystem::temp_directory_path() /
             ("twla-bench-allocate-L" + std::to_string(layers) + "-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto cfg = nlohmann::json::parse(read_file(src + "/config.json"));
  cfg["num_hidden_layers"] = layers;
  std::ofstream(dir / "config.json") << cfg.dump(2);
  std::map<std::string, Tensor> out;
  for (const auto& f : m.source().files()) {
    if (!ends_with(f, ".safetensors")) continue;   // files() also lists config.json
    SafetensorsFile st(f);
    for (const auto& name : st.names()) {
      const std::string pre = "model.layers.";
      if (name.rfind(pre, 0) != 0) {
        out[name] = st.load_raw(name);
        continue;
      }
      const size_t dot = name.find('.', pre.size());
      const int b = std::stoi(name.substr(pre.size(), dot - pre.size()));
      for (int i = b; i < layers; i += L0)
        out[pre + std::to_string(i) + name.substr(dot)] = st.load_raw(name);
    }
  }
  write_safetensors((dir / "model.safetensors").string(), out);
  return dir.string();
}

double seconds(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// CPU seconds of this process (all threads) or of the calling thread: robust to other load.
double cpu_seconds(clockid_t which) {
  timespec ts{};
  clock_gettime(which, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

// CPU seconds of this thread for one embedding, one block forward (block 0, at the baseline) and
// one head over the allocation set, each the best of `reps` after one warm-up, at one intra-op
// thread as the searches run (thread CPU time: the machine's other load does not count).
IlaAmpUnitTimes unit_times(const NllEvaluator& ev, const std::vector<int>& base_bits, int reps) {
  const Model& m = *ev.model;
  const int before = get_threads();
  set_threads(1);
  auto ops = ev.ops(base_bits);
  const Block blk = m.load_block(0);
  IlaAmpUnitTimes t{1e30, 1e30, 1e30, 1e30};
  auto best = [](double& slot, double t0) {
    slot = std::min(slot, cpu_seconds(CLOCK_THREAD_CPUTIME_ID) - t0);
  };
  for (int r = 0; r <= reps; ++r) {
    if (r == 1) t = IlaAmpUnitTimes{1e30, 1e30, 1e30, 1e30};   // drop the warm-up
    double c = cpu_seconds(CLOCK_THREAD_CPUTIME_ID);
    Tensor h = m.embed(ev.windows);
    best(t.embed_s, c);
    c = cpu_seconds(CLOCK_THREAD_CPUTIME_ID);
    for (int64_t s = 0; s < h.size(0); s += ev.batch) {
      const int64_t e = std::min(h.size(0), s + int64_t(ev.batch));
      h.narrow(0, s, e - s).copy_(m.block_forward(blk, h.narrow(0, s, e - s), *ops));
    }
    best(t.block_s, c);
    c = cpu_seconds(CLOCK_THREAD_CPUTIME_ID);
    score_hidden(m, ev.windows, m.norm(h), nullptr);
    best(t.head_s, c);
    c = cpu_seconds(CLOCK_THREAD_CPUTIME_ID);
    m.load_block(r % m.n_blocks());
    best(t.load_s, c);
  }
  set_threads(before);
  return t;
}

std::string bits_text(const std::vector<int>& b) {
  std::string s;
  for (int x : b) s += (s.empty() ? "" : ",") + std::to_string(x);
  return s;
}
}  // namespace

int bench_allocate(int argc, char** argv) {
  Opts o = parse(argc, argv);
  set_threads(o.threads);
  const std::string src = expand_path(o.model);
  const std::string dir = o.layers > 0 ? deepen(src, o.layers) : src;
  Model m(dir);
  auto tok = load_tokenizer(src);
  const int L = m.n_blocks();
  NllEvaluator ev;
  ev.model = &m;
  ev.windows = make_windows(sample_calibration(*tok, "c4", o.windows, o.seqlen, 1), o.seqlen, o.windows);
  ev.batch = o.batch;
  ev.ops = [](const std::vector<int>& bits) {
    return std::make_unique<QuantLinearOps>(nullptr, Allocation{bits, {}}, 0.9, false);
  };
  auto jobs = ila_amp_jobs(L, o.candidates, o.baseline);
  const IlaAmpCost cost = ila_amp_cost(jobs, L);
  const IlaAmpUnitTimes ut = unit_times(ev, jobs[0].bits, 3);
  std::printf("bench allocate: %s, L = %d blocks, %zu evaluations (candidates %s, baseline %d), "
              "%d x %d tokens of held-out C4, batch %d, one intra-op thread per worker, load %s\n",
              std::filesystem::path(src).filename().c_str(), L, jobs.size(),
              bits_text(o.candidates).c_str(), o.baseline, o.windows, o.seqlen, o.batch,
              trim(read_file("/proc/loadavg")).substr(0, 14).c_str());
  // The cost model (allocators/ila_amp_cost.h) with this machine's unit times, for this L and
  // for other depths of the same blocks.
  int non_base = 0;
  for (int b : o.candidates) non_base += b != o.baseline;
  std::printf("cost model: block forwards naive %lld, cached %lld (ratio %.2f); %lld heads each way; "
              "cpu ms: embedding %.2f, block %.2f, head %.2f, block load %.3f (eta = (e + h) / c = %.2f)\n",
              (long long)cost.naive_blocks, (long long)cost.cached_blocks,
              double(cost.naive_blocks) / double(cost.cached_blocks), (long long)cost.evaluations,
              1e3 * ut.embed_s, 1e3 * ut.block_s, 1e3 * ut.head_s, 1e3 * ut.load_s,
              (ut.embed_s + ut.head_s) / ut.block_s);
  std::printf("predicted naive-1 / cached-W (W workers on W free cores):");
  std::vector<int> depths{L};
  for (int d : {16, 32, 80})
    if (d != L) depths.push_back(d);
  for (int Lp : depths) {
    const IlaAmpCost c = ila_amp_cost_closed(Lp, non_base);
    const double n = ila_amp_naive_seconds(c, Lp, ut);
    std::printf("%s L=%d: W=1 %.2f, W=2 %.2f, W=4 %.2f", Lp == L ? "" : ";", Lp,
                n / ila_amp_cached_seconds(c, Lp, ut, 1), n / ila_amp_cached_seconds(c, Lp, ut, 2),
                n / ila_amp_cached_seconds(c, Lp, ut, 4));
  }
  std::printf("\n");
  const double pred_naive = ila_amp_naive_seconds(cost, L, ut);

  nlohmann::json js{{"model", src}, {"layers", L}, {"evaluations", jobs.size()},
                    {"block_forwards_naive", cost.naive_blocks},
                    {"block_forwards_cached", cost.cached_blocks},
                    {"unit_seconds", {{"embed", ut.embed_s}, {"block", ut.block_s}, {"head", ut.head_s},
                                      {"load", ut.load_s}}}};
  // Every evaluation runs at one intra-op thread (ila_amp_measure.h), so all four must agree.
  struct Way { std::string name; bool cached; int workers; double s = 0, cpu = 0; std::vector<double> nll; DpResult a; };
  std::vector<Way> ways;
  if (o.naive) ways.push_back({"naive", false, 1, 0, 0, {}, {}});
  if (o.naive && o.workers > 1) ways.push_back({"naive", false, o.workers, 0, 0, {}, {}});
  ways.push_back({"cached", true, 1, 0, 0, {}, {}});
  if (o.workers > 1) ways.push_back({"cached", true, o.workers, 0, 0, {}, {}});
  const int budget = ila_amp_budget(o.avg, L);
  for (auto& w : ways) {
    auto t = Clock::now();
    const double c0 = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID);
    w.nll = w.cached ? measure_cached(ev, jobs, w.workers) : measure_naive(ev, jobs, w.workers);
    w.s = seconds(t);
    w.cpu = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID) - c0;
    IlaAmpTables tb = ila_amp_tables(L, o.candidates, o.baseline, jobs, w.nll);
    w.a = ila_amp_dp(tb.delta1, ila_amp_interaction(tb.delta1, tb.pair_nll, tb.base_nll),
                     o.candidates, budget, 0.5);
  }
  const Way& ref = ways.front();
  int differ = 0;
  double max_diff = 0;
  bool same = true;
  for (const auto& w : ways) {
    same = same && w.a.bits == ref.a.bits;
    for (size_t j = 0; j < jobs.size(); ++j) {
      differ += w.nll[j] != ref.nll[j];
      max_diff = std::max(max_diff, std::abs(w.nll[j] - ref.nll[j]));
    }
  }
  // x naive-1: wall-time ratio; cpu: process CPU seconds (work, whatever the load), and its
  // ratio, which is what the cost model predicts for W = 1.
  std::printf("%-7s %-7s %8s %8s %10s %9s %10s   %s\n", "search", "workers", "wall s", "cpu s",
              "predicted", "x naive-1", "predicted", ("allocation (b_avg " + fixed(o.avg, 2) + ")").c_str());
  for (auto& w : ways) {
    const double pred = w.cached ? ila_amp_cached_seconds(cost, L, ut, w.workers)
                                 : pred_naive / double(w.workers);
    std::printf("%-7s %-7d %8.2f %8.2f %10.2f %9s %10.2f   %s\n", w.name.c_str(), w.workers, w.s,
                w.cpu, pred, o.naive ? fixed(ways[0].s / w.s, 2).c_str() : "-", pred_naive / pred,
                bits_text(w.a.bits).c_str());
    js["predicted_seconds"][w.name + "_" + std::to_string(w.workers)] = pred;
    js["cpu_seconds"][w.name + "_" + std::to_string(w.workers)] = w.cpu;
  }
  if (o.naive && ways.size() > 1) {
    const Way& c1 = *std::find_if(ways.begin(), ways.end(), [](const Way& w) { return w.cached; });
    std::printf("work ratio (cpu s) naive-1 / cached-1: %.2f (cost model %.2f)\n", ways[0].cpu / c1.cpu,
                pred_naive / ila_amp_cached_seconds(cost, L, ut, 1));
  }
  std::printf("NLLs differing from %s-1: %d of %zu (max |diff| %.3g); allocations (budget %d bits) %s\n",
              ref.name.c_str(), differ, ways.size() * jobs.size(), max_diff, budget,
              same ? "IDENTICAL" : "DIFFER");
  if (o.shards > 0) {
    // Farmed out (allocators/ila_amp_farm.h): each shard measured on its own, one worker, as one
    // array task would; the array's wall time is its largest shard's.
    const IlaAmpShardPlan plan = ila_amp_shard_plan(jobs, L, o.shards, "--shards");
    std::vector<IlaAmpShardResult> parts;
    double max_cpu = 0, sum_cpu = 0;
    for (int k = 0; k < o.shards; ++k) {
      const double c0 = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID);
      parts.push_back(ila_amp_measure_shard(ev, jobs, plan, k, 1, "bench"));
      const double c = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID) - c0;
      max_cpu = std::max(max_cpu, c), sum_cpu += c;
    }
    const auto merged = ila_amp_merge_shards(parts, plan, jobs.size(), "bench");
    int sdiff = 0;
    for (size_t j = 0; j < jobs.size(); ++j) sdiff += merged[j] != ref.nll[j];
    differ += sdiff;
    const int64_t max_blocks = *std::max_element(plan.blocks.begin(), plan.blocks.end());
    std::printf("%d shards (1 worker each): cpu s largest %.2f, all %.2f; predicted block forwards "
                "largest %lld (naive %lld: %.2fx); x naive-1 (cpu, largest shard) %s; NLLs differing "
                "from %s-1: %d\n",
                o.shards, max_cpu, sum_cpu, (long long)max_blocks, (long long)cost.naive_blocks,
                double(cost.naive_blocks) / double(max_blocks),
                o.naive ? fixed(ways[0].cpu / max_cpu, 2).c_str() : "-", ref.name.c_str(), sdiff);
    js["shards"] = {{"count", o.shards}, {"cpu_seconds_largest", max_cpu}, {"cpu_seconds_all", sum_cpu},
                    {"blocks", plan.blocks}, {"identical", sdiff == 0}};
  }
  std::printf("load at end: %s\n", trim(read_file("/proc/loadavg")).substr(0, 14).c_str());
  for (const auto& w : ways) js["seconds"][w.name + "_" + std::to_string(w.workers)] = w.s;
  js["workers"] = o.workers;
  js["allocation"] = ref.a.bits;
  js["identical"] = same && differ == 0;
  write_bench_files("allocate", js, o.json, o.h5, argc, argv);
  if (o.layers > 0) std::filesystem::remove_all(dir);
  return same && differ == 0 ? 0 : 1;
}

}  // namespace twla::bench
