// bench/rotate_bench.cpp: `twla bench rotate`. Per size n: the plan's dense Q (f64 reference, f32
// copy for the baseline), x [tokens, n] f32 random; validation first: on a slice of rows both the
// fast path and the dense f32 matmul are compared with x Q in f64 (the fast path may err at most
// twice libtorch's f32 matmul, plus a floor), and the two outputs with each other over all rows.
// Then each is timed (best of repeats, wall and process CPU); the ratio is dense / fast.
#include "bench/rotate_bench.h"

#include <ATen/CPUGeneratorImpl.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench/bench_output.h"
#include "bench/flags.h"
#include "core/tensor.h"
#include "rotations/hadamard.h"

namespace twla::bench {
namespace {
using Clock = std::chrono::steady_clock;

struct Opts {
  int64_t tokens = 2048;
  std::vector<int64_t> sizes{4096, 11008};
  int threads = 0;
  std::string json, h5;
  double min_time = 0.5;
  uint64_t seed = 0;
};

const char* kUsage = "usage: twla bench rotate [--tokens 2048] [--sizes 4096,11008] [--threads N] [--json FILE] [--h5 FILE] "
                     "[--min-time S] [--seed S]";

Opts parse(int argc, char** argv) {
  Opts o;
  Flags f(argc, argv, "rotate", kUsage);
  while (f.next()) {
    if (f.is("--tokens")) o.tokens = f.i64();
    else if (f.is("--sizes")) o.sizes = f.list();
    else if (f.is("--threads")) o.threads = f.i32();
    else if (f.is("--json")) o.json = f.str();
    else if (f.is("--h5")) o.h5 = f.str();
    else if (f.is("--min-time")) o.min_time = f.f64();
    else if (f.is("--seed")) o.seed = f.u64();
    else f.unknown();
  }
  if (o.tokens < 1 || o.sizes.empty()) f.fail("--tokens and --sizes must be positive");
  for (int64_t n : o.sizes)
    if (n < 1) f.fail("--sizes holds " + std::to_string(n));
  return o;
}

std::string loadavg() {
  std::ifstream f("/proc/loadavg");
  std::string a, b, c;
  f >> a >> b >> c;
  return a + " " + b + " " + c;
}

double cpu_seconds() { return double(std::clock()) / CLOCKS_PER_SEC; }  // this process, all threads

struct Timing {
  double wall = 1e300, cpu = 1e300;  // best of the repeats, seconds per call
  int reps = 0;
};
// Repeats until min_time has passed (at least two); the validation calls were the warm-up.
Timing time_it(const std::function<void()>& f, double min_time) {
  Timing t;
  auto start = Clock::now();
  while (t.reps < 2 || std::chrono::duration<double>(Clock::now() - start).count() < min_time) {
    auto t0 = Clock::now();
    const double c0 = cpu_seconds();
    f();
    t.wall = std::min(t.wall, std::chrono::duration<double>(Clock::now() - t0).count());
    t.cpu = std::min(t.cpu, cpu_seconds() - c0);
    ++t.reps;
  }
  return t;
}
}  // namespace

int bench_rotate(int argc, char** argv) {
  Opts o = parse(argc, argv);
  if (o.threads > 0) set_threads(o.threads);
  const std::string load0 = loadavg();
  std::cout << "rotate bench: x [" << o.tokens << ", n] f32, threads " << get_threads() << ", loadavg "
            << load0 << "\n";
  nlohmann::json j;
  j["tokens"] = o.tokens;
  j["threads"] = get_threads();
  bool ok = true;
  for (int64_t n : o.sizes) {
    auto plan = make_hadamard_plan(n, o.seed);
    Tensor Q = hadamard_dense(*plan).to(at::kFloat).contiguous();  // [n, n] f32, the baseline's Q
    auto gen = at::make_generator<at::CPUGeneratorImpl>(o.seed + uint64_t(n));
    Tensor x = at::randn({o.tokens, n}, gen, at::TensorOptions().dtype(at::kFloat));  // [tokens, n]

    // Validation: a slice against f64, then the two paths against each other on every row.
    const int64_t rows = std::min<int64_t>(o.tokens, 16);
    Tensor xs = x.narrow(0, 0, rows);
    Tensor want = xs.to(at::kDouble).mm(hadamard_dense(*plan));  // [rows, n] f64
    const double e_fast = max_abs_diff(hadamard_apply(*plan, xs).to(at::kDouble), want);
    const double e_lib = max_abs_diff(at::matmul(xs, Q).to(at::kDouble), want);
    Tensor y_fast = hadamard_apply(*plan, x), y_dense = at::matmul(x, Q);
    const double agree = max_abs_diff(y_fast, y_dense), scale = max_abs(y_dense);
    const bool valid = e_fast <= 2 * e_lib + 1e-6 * max_abs(want) && agree <= 1e-4 * scale;
    ok = ok && valid;

    Timing fast = time_it([&] { y_fast = hadamard_apply(*plan, x); }, o.min_time);
    Timing dense = time_it([&] { y_dense = at::matmul(x, Q); }, o.min_time);
    const double ratio = dense.wall / fast.wall, ratio_cpu = dense.cpu / fast.cpu;
    std::printf("  n=%lld (%s): hadamard %.4f s (cpu %.4f, %d reps), dense matmul %.4f s (cpu %.4f, %d reps) "
                "-> %.1fx (cpu %.1fx); err vs f64 %.2g (matmul %.2g), paths differ by %.2g (%s)\n",
                (long long)n, plan->construction.c_str(), fast.wall, fast.cpu, fast.reps, dense.wall,
                dense.cpu, dense.reps, ratio, ratio_cpu, e_fast, e_lib, agree, valid ? "valid" : "INVALID");
    const std::string k = "n" + std::to_string(n);
    j["figures"][k + "_hadamard_s"] = fast.wall;
    j["figures"][k + "_hadamard_cpu_s"] = fast.cpu;
    j["figures"][k + "_dense_s"] = dense.wall;
    j["figures"][k + "_dense_cpu_s"] = dense.cpu;
    j["figures"][k + "_max_abs_diff"] = agree;
    j["figures"][k + "_valid"] = valid;
    j["figures"][k + "_construction"] = plan->construction;
    j["ratios"][k + "_dense_over_hadamard"] = ratio;
    j["ratios"][k + "_dense_over_hadamard_cpu"] = ratio_cpu;
  }
  j["loadavg"] = {{"start", load0}, {"end", loadavg()}};
  std::cout << "  loadavg at end " << loadavg() << "\n";
  write_bench_files("rotate", j, o.json, o.h5, argc, argv);
  return ok ? 0 : 1;
}

}  // namespace twla::bench
