// bench/kernels_bench.cpp: `twla bench kernels`: tq2 CPU kernels (fp32 activations; A8 dynamic;
// A4 codes) and e2m ones (fp32; A4 codes) vs OpenBLAS sgemv (batch 1) / sgemm (batch > 1) at the
// same shape (on tq2's weights dequantized), plus a read roof (streaming vector read of all fp32
// copies on --threads threads, best of 5) and memcpy, all in one run. Each kernel is validated on
// its first and last rows against the plain reference before it is timed. Weights rotate through
// copies spanning --pool-mib so every call streams from DRAM, not the last-level cache.
#include "bench/kernels_bench.h"

#ifdef TWLA_HAVE_BLAS
#include <cblas.h>
#endif
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <string>
#include <tuple>
#include <thread>
#include <vector>

#include "bench/bench_output.h"
#include "bench/flags.h"
#include "bench/kernels_cuda_bench.h"
#include "kernels/e2m.h"
#include "kernels/kernels.h"
#include "kernels/thread_pool.h"
#include "kernels/tq2.h"

namespace twla::bench {
namespace {
using namespace twla::kernels;
using Clock = std::chrono::steady_clock;

struct Opts {
  std::vector<std::pair<int64_t, int64_t>> shapes{{16384, 16384}};
  std::vector<int> batches{1, 4, 16};
  int threads = int(std::max(1u, std::thread::hardware_concurrency()));
  std::string json, h5;
  double min_time = 1.0;
  int64_t pool_mib = 1024;
};

const char* kUsage = "usage: twla bench kernels [--shape OCxIC[,OCxIC...]] [--batch 1,4,16] [--threads N] "
                     "[--json FILE] [--h5 FILE] [--min-time S] [--pool-mib M]  (GPU: --cuda, see --cuda --help; several shapes: figures keyed "
                     "<kernel>_<OC>x<IC>_b<batch>, else <kernel>_b<batch>)";

Opts parse(int argc, char** argv) {
  Opts o;
  Flags f(argc, argv, "kernels", kUsage);
  while (f.next()) {
    if (f.is("--shape")) o.shapes = f.shapes();
    else if (f.is("--batch")) {
      o.batches.clear();
      for (int64_t b : f.list()) o.batches.push_back(int(b));
    } else if (f.is("--threads")) o.threads = f.i32();
    else if (f.is("--json")) o.json = f.str();
    else if (f.is("--h5")) o.h5 = f.str();
    else if (f.is("--min-time")) o.min_time = f.f64();
    else if (f.is("--pool-mib")) o.pool_mib = f.i64();
    else f.unknown();
  }
  if (o.threads < 1 || o.batches.empty()) f.fail("threads and batch must be positive");
  for (const auto& sh : o.shapes)
    if (sh.first < 1 || sh.second < 1) f.fail("shape " + std::to_string(sh.first) + "x" + std::to_string(sh.second) + " must be positive");
  for (int b : o.batches)
    if (b < 1 || b > 4096) f.fail("batch " + std::to_string(b) + " must be in 1..4096");
  return o;
}

uint64_t rng_state = 0x9e3779b97f4a7c15ull;
uint64_t next() {  // xorshift64*: fast enough for a GiB of weights
  rng_state ^= rng_state >> 12, rng_state ^= rng_state << 25, rng_state ^= rng_state >> 27;
  return rng_state * 2685821657736338717ull;
}
float uniform() { return float(next() >> 40) / float(1 << 24); }

std::string loadavg() {
  std::ifstream f("/proc/loadavg");
  std::string a, b, c;
  f >> a >> b >> c;
  return a + " " + b + " " + c;
}

double cpu_seconds() {  // this process, all threads
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}

// Median wall seconds of fn(iteration) over >= 3 runs and >= min_time, after one warm-up; also
// the mean process CPU seconds per run (on a loaded machine wall time mostly measures the others;
// with --threads 1 CPU time is this kernel's own cost, stalls on memory included).
struct Timing {
  double wall, cpu;
};
Timing time_it(double min_time, const std::function<void(int)>& fn) {
  fn(0);
  std::vector<double> t;
  const double c0 = cpu_seconds();
  auto start = Clock::now();
  for (int i = 1; t.size() < 3 || std::chrono::duration<double>(Clock::now() - start).count() < min_time; ++i) {
    auto t0 = Clock::now();
    fn(i);
    t.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  const double cpu = (cpu_seconds() - c0) / t.size();
  std::sort(t.begin(), t.end());
  return {t[t.size() / 2], cpu};
}

// The read roof's kernel: sums n floats as kStreams interleaved sub-streams (more misses in flight
// than one stream gets from the hardware prefetcher) with software prefetch kPrefetch bytes ahead.
constexpr int kStreams = 4;
constexpr int64_t kPrefetch = 1024;
__attribute__((target("avx2"))) float read_sum(const float* p, int64_t n) {
  __m256 a[kStreams][2];
  for (auto& s : a) s[0] = s[1] = _mm256_setzero_ps();
  const int64_t per = n / kStreams / 16 * 16;  // floats per sub-stream
  for (int64_t i = 0; i < per; i += 16)
    for (int s = 0; s < kStreams; ++s) {
      const float* q = p + s * per + i;
      _mm_prefetch(reinterpret_cast<const char*>(q) + kPrefetch, _MM_HINT_T0);
      a[s][0] = _mm256_add_ps(a[s][0], _mm256_loadu_ps(q)), a[s][1] = _mm256_add_ps(a[s][1], _mm256_loadu_ps(q + 8));
    }
  float r = 0, t[8];
  for (auto& s : a) {
    _mm256_storeu_ps(t, _mm256_add_ps(s[0], s[1]));
    for (float v : t) r += v;
  }
  for (int64_t i = kStreams * per; i < n; ++i) r += p[i];
  return r;
}

struct Row {
  std::string name;
  int batch;
  Timing t;
  double bytes, ratio, cpu_ratio;
};

// A view of rows [o0, o0 + r) of w (rows are contiguous in every section).
Tq2View rows_view(Tq2View v, int64_t o0, int64_t r) {
  v.codes += o0 * v.row_bytes(), v.alpha += o0 * v.n_groups, v.mu += o0 * v.n_groups, v.wsum += o0;
  v.oc = r;
  return v;
}

E2mView rows_view(E2mView v, int64_t o0, int64_t r) {
  v.codes += o0 * v.row_bytes, v.params += o0 * v.n_blocks * kE2mParams;
  v.oc = r;
  return v;
}

// E2M-ATQ-like weights: per block kSalient random salient columns (groups 0/1, two trit planes),
// the rest in groups 2/3 with one plane; random params. (E2M-ATQ searches 1..63 salient columns.)
constexpr int kSalient = 16;
E2mBuffer random_e2m(int64_t oc, int64_t ic) {
  std::vector<uint8_t> group(oc * ic);
  std::vector<int8_t> t0(oc * ic), t1(oc * ic, 0);
  std::vector<uint8_t> sal(ic, 0);
  for (int64_t st = 0; st < ic; st += kE2mBlock)
    for (int i = 0; i < kSalient; ++i) sal[st + int64_t(next() % uint64_t(std::min(kE2mBlock, ic - st)))] = 1;
  for (int64_t i = 0; i < oc * ic; ++i) {
    const uint64_t v = next();
    const bool s = sal[i % ic];
    group[i] = uint8_t((s ? 0 : 2) + (v & 1));
    t0[i] = int8_t(int((v >> 8) % 3) - 1);
    if (s) t1[i] = int8_t(int((v >> 16) % 3) - 1);
  }
  const int64_t np = oc * ((ic + kE2mBlock - 1) / kE2mBlock) * 4;
  std::vector<float> mu(np), a0(np), a1(np);
  for (int64_t i = 0; i < np; ++i) mu[i] = 0.004f * (uniform() - 0.5f), a0[i] = 0.01f + 0.05f * uniform(), a1[i] = a0[i] / 3;
  E2mSource src;
  src.oc = oc, src.ic = ic, src.groups = 4, src.group = group.data(), src.t0 = t0.data(), src.t1 = t1.data();
  src.mu = mu.data(), src.alpha0 = a0.data(), src.alpha1 = a1.data();
  return e2m_pack(src);
}

void validate(const std::string& name, const std::vector<float>& y, const std::vector<float>& ref_lo,
              const std::vector<float>& ref_hi, int batch, int64_t oc, int64_t r) {
  double m = 1e-30, e = 0;
  for (int b = 0; b < batch; ++b)
    for (int64_t i = 0; i < r; ++i) {
      double lo = ref_lo[b * r + i], hi = ref_hi[b * r + i];
      m = std::max({m, std::fabs(lo), std::fabs(hi)});
      e = std::max({e, std::fabs(y[b * oc + i] - lo), std::fabs(y[b * oc + oc - r + i] - hi)});
    }
  if (e > 1e-3 * m) throw std::runtime_error(name + " batch " + std::to_string(batch) + " fails validation: max err " +
                                             std::to_string(e) + " vs max |y| " + std::to_string(m));
}

// One shape: validate and time every kernel and the baseline at every batch; figures into j
// (keyed by shape when `keyed`).
void bench_shape(const Opts& o, int64_t oc, int64_t ic, bool keyed, nlohmann::json& j) {
  const std::string sh = std::to_string(oc) + "x" + std::to_string(ic);
  std::cout << "[" << oc << ", " << ic << "]\n";

  // Weights: random ternary codes, per-row alpha/mu; the fp32 baseline gets the same W dequantized.
  std::vector<int8_t> codes(oc * ic);
  std::vector<float> alpha(oc), mu(oc);
  for (auto& c : codes) c = int8_t(int(next() % 3) - 1);
  for (int64_t i = 0; i < oc; ++i) alpha[i] = 0.01f + 0.05f * uniform(), mu[i] = 0.004f * (uniform() - 0.5f);
  std::vector<uint8_t> packed = tq2_pack(codes.data(), alpha.data(), mu.data(), oc, ic, -1);
  const double tq2_bytes_ = double(packed.size()), f32_bytes = 4.0 * oc * ic;
  const int64_t pool = o.pool_mib << 20;
  const int n_tq2 = int(std::max<int64_t>(1, (pool + packed.size() - 1) / packed.size()));
  const int n_f32 = int(std::max<int64_t>(1, (pool + int64_t(f32_bytes) - 1) / int64_t(f32_bytes)));
  std::vector<std::vector<uint8_t>> tq2(n_tq2, packed);
  std::vector<Tq2View> views;
  for (auto& b : tq2) views.push_back(tq2_view(b.data(), b.size(), oc, ic));
  std::vector<std::vector<float>> wf(n_f32, std::vector<float>(oc * ic));
  for (int64_t i = 0; i < oc * ic; ++i) wf[0][i] = mu[i / ic] + alpha[i / ic] * codes[i];
  for (int c = 1; c < n_f32; ++c) wf[c] = wf[0];
  codes = {};
  std::vector<E2mBuffer> e2m(1, random_e2m(oc, ic));
  const double e2m_bytes = double(e2m[0].bytes.size()), e2m_bits = e2m_bits_per_weight(e2m[0].view());
  const int n_e2m = int(std::max<int64_t>(1, (pool + int64_t(e2m_bytes) - 1) / int64_t(e2m_bytes)));
  for (int c = 1; c < n_e2m; ++c) e2m.push_back(e2m[0]);
  std::vector<E2mView> e2m_views;
  for (auto& b : e2m) e2m_views.push_back(e2m_view(b.bytes.data(), b.bytes.size(), oc, ic));
  std::cout << "tq2 " << tq2_bits_per_weight(oc, ic, -1) << " bits/weight, " << n_tq2 << " copies of "
            << tq2_bytes_ / (1 << 20) << " MiB; e2m (" << kSalient << " salient columns per block) " << e2m_bits
            << " bits/weight, " << n_e2m << " copies of " << e2m_bytes / (1 << 20) << " MiB; fp32 " << n_f32
            << " copies of " << f32_bytes / (1 << 20) << " MiB\n";

#if defined(TWLA_HAVE_BLAS) && defined(OPENBLAS_VERSION)
  openblas_set_num_threads(o.threads);
#endif
  Tq2Opts kopt{o.threads, Tq2Path::kAuto};

  // Roofs: a streaming read of every fp32 copy (>= --pool-mib, more than the last-level cache) on
  // --threads threads, best of several passes; and memcpy (read + write bytes).
  volatile float sink = 0;
  double t_read = 1e30;
  for (int rep = 0; rep < 5; ++rep) {
    auto t0 = Clock::now();
    std::mutex m;
    for (int c = 0; c < n_f32; ++c)
      parallel_rows(o.threads, oc * ic, 1 << 16, [&](int64_t b, int64_t e) {
        float s = read_sum(wf[c].data() + b, e - b);
        std::lock_guard<std::mutex> l(m);
        sink = sink + s;
      });
    t_read = std::min(t_read, std::chrono::duration<double>(Clock::now() - t0).count());
  }
  const int64_t roof_n = oc * ic * int64_t(n_f32);
  const int64_t cp_n = std::min<int64_t>(std::min<int64_t>(oc * ic, pool / 4) / 2, int64_t(64) << 20);
  std::vector<float> dst(cp_n);
  double t_copy = time_it(o.min_time, [&](int) {
    parallel_rows(o.threads, cp_n, 1 << 16, [&](int64_t b, int64_t e) { std::memcpy(dst.data() + b, wf[0].data() + b, (e - b) * 4); });
  }).wall;
  const double read_gbps = 4.0 * roof_n / t_read / 1e9, copy_gbps = 8.0 * cp_n / t_copy / 1e9;
  std::cout << "read roof " << read_gbps << " GB/s, memcpy " << copy_gbps << " GB/s (read + write)\n\n";

  std::vector<Row> rows;
  const int64_t r = std::min<int64_t>(oc, 32);
  Tq2View lo = rows_view(views[0], 0, r), hi = rows_view(views[0], oc - r, r);
  for (int batch : o.batches) {
    std::vector<float> x(batch * ic), y(batch * oc), ref_lo(batch * r), ref_hi(batch * r);
    for (auto& v : x) v = 2 * uniform() - 1;
    // Baseline: sgemv for one token, sgemm for several (what a BLAS user would call).
    auto blas = [&](int i) {
      const float* W = wf[i % n_f32].data();
#ifndef TWLA_HAVE_BLAS
      throw std::runtime_error("twla was built without BLAS (cmake found none): no baseline to compare with");
#else
      if (batch == 1)
        cblas_sgemv(CblasRowMajor, CblasNoTrans, int(oc), int(ic), 1.f, W, int(ic), x.data(), 1, 0.f, y.data(), 1);
      else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, batch, int(oc), int(ic), 1.f, x.data(), int(ic), W,
                    int(ic), 0.f, y.data(), int(oc));
#endif
    };
    tq2_gemm_f32_ref(lo, x.data(), batch, ref_lo.data());
    tq2_gemm_f32_ref(hi, x.data(), batch, ref_hi.data());
    blas(0);
    validate("openblas", y, ref_lo, ref_hi, batch, oc, r);
    Timing t_blas = time_it(o.min_time, blas);
    rows.push_back({batch == 1 ? "openblas_sgemv" : "openblas_sgemm", batch, t_blas, f32_bytes, 1.0, 1.0});
    auto add = [&](const char* name, Timing t, double bytes) {
      rows.push_back({name, batch, t, bytes, t_blas.wall / t.wall, t_blas.cpu / t.cpu});
    };

    auto f32 = [&](int i) { tq2_gemm_f32(views[i % n_tq2], x.data(), batch, y.data(), kopt); };
    f32(0);
    validate("tq2_f32", y, ref_lo, ref_hi, batch, oc, r);
    add("tq2_f32", time_it(o.min_time, f32), tq2_bytes_);

    // A8: fp32 x quantized per token inside the timed call; A4: codes given (TWLA's activations).
    auto a8 = [&](int i) {
      Tq2Act a = tq2_quantize_act(views[i % n_tq2], x.data(), batch, 8);
      tq2_gemm_act(views[i % n_tq2], a, y.data(), kopt);
    };
    Tq2Act a8ref = tq2_quantize_act(views[0], x.data(), batch, 8);
    tq2_gemm_act_ref(lo, a8ref, ref_lo.data());
    tq2_gemm_act_ref(hi, a8ref, ref_hi.data());
    a8(0);
    validate("tq2_a8", y, ref_lo, ref_hi, batch, oc, r);
    add("tq2_a8", time_it(o.min_time, a8), tq2_bytes_);

    Tq2Act a4 = tq2_quantize_act(views[0], x.data(), batch, 4);
    tq2_gemm_act_ref(lo, a4, ref_lo.data());
    tq2_gemm_act_ref(hi, a4, ref_hi.data());
    auto a4k = [&](int i) { tq2_gemm_act(views[i % n_tq2], a4, y.data(), kopt); };
    a4k(0);
    validate("tq2_a4", y, ref_lo, ref_hi, batch, oc, r);
    add("tq2_a4", time_it(o.min_time, a4k), tq2_bytes_);
    if (cpu_has_avx512_vnni() && cpu_has_avx_vnni()) {  // the ymm VNNI path auto replaces, for comparison
      Tq2Opts yopt{o.threads, Tq2Path::kAvxVnni};
      auto a4y = [&](int i) { tq2_gemm_act(views[i % n_tq2], a4, y.data(), yopt); };
      a4y(0);
      validate("tq2_a4_ymm", y, ref_lo, ref_hi, batch, oc, r);
      add("tq2_a4_ymm", time_it(o.min_time, a4y), tq2_bytes_);
    }

    // e2m: fp32 activations, and the same A4 codes (q - zero formed in fp32 inside the call).
    E2mView elo = rows_view(e2m_views[0], 0, r), ehi = rows_view(e2m_views[0], oc - r, r);
    E2mOpts eopt{o.threads, E2mPath::kAuto};
    e2m_gemm_f32_ref(elo, x.data(), batch, ref_lo.data());
    e2m_gemm_f32_ref(ehi, x.data(), batch, ref_hi.data());
    auto e32 = [&](int i) { e2m_gemm_f32(e2m_views[i % n_e2m], x.data(), batch, y.data(), eopt); };
    e32(0);
    validate("e2m_f32", y, ref_lo, ref_hi, batch, oc, r);
    add("e2m_f32", time_it(o.min_time, e32), e2m_bytes);
    std::vector<uint8_t> q4(batch * ic);
    for (int b = 0; b < batch; ++b) std::memcpy(&q4[b * ic], &a4.q[b * a4.ic_pad], ic);
    e2m_gemm_act_ref(elo, q4.data(), a4.scale.data(), a4.zero.data(), batch, ref_lo.data());
    e2m_gemm_act_ref(ehi, q4.data(), a4.scale.data(), a4.zero.data(), batch, ref_hi.data());
    auto e4 = [&](int i) { e2m_gemm_act(e2m_views[i % n_e2m], q4.data(), a4.scale.data(), a4.zero.data(), batch, y.data(), eopt); };
    e4(0);
    validate("e2m_a4", y, ref_lo, ref_hi, batch, oc, r);
    add("e2m_a4", time_it(o.min_time, e4), e2m_bytes);
  }

  std::printf("%-16s %5s %10s %9s %9s %9s %10s %10s\n", "kernel", "batch", "ms", "GB/s", "x blas", "of roof", "cpu ms",
              "x blas cpu");
  for (const Row& w : rows) {
    double gbps = w.bytes / w.t.wall / 1e9;
    std::printf("%-16s %5d %10.3f %9.2f %9.2f %8.0f%% %10.3f %10.2f\n", w.name.c_str(), w.batch, w.t.wall * 1e3, gbps,
                w.ratio, 100 * gbps / read_gbps, w.t.cpu * 1e3, w.cpu_ratio);
    std::string key = w.name + (keyed ? "_" + sh : "") + "_b" + std::to_string(w.batch);
    j["figures"][key] = {{"ms", w.t.wall * 1e3},          {"cpu_ms", w.t.cpu * 1e3}, {"gbps", gbps},
                         {"speedup_vs_blas", w.ratio},     {"cpu_speedup_vs_blas", w.cpu_ratio},
                         {"frac_of_read_roof", gbps / read_gbps}};
  }
  nlohmann::json& d = keyed ? j["shapes"][sh] : j;
  d["shape"] = {oc, ic};
  d["tq2_bits_per_weight"] = tq2_bits_per_weight(oc, ic, -1);
  d["e2m_bits_per_weight"] = e2m_bits;
  d["read_roof_gbps"] = read_gbps;
  d["memcpy_gbps"] = copy_gbps;
  d["copies"] = {{"tq2", n_tq2}, {"e2m", n_e2m}, {"fp32", n_f32}};
  std::cout << "\n";
}

}  // namespace

int bench_kernels(int argc, char** argv) {
  for (int i = 0; i < argc; ++i)
    if (std::string(argv[i]) == "--cuda") return bench_kernels_cuda(argc, argv);
  Opts o = parse(argc, argv);
  const std::string load0 = loadavg();
  std::cout << "tq2/e2m CPU bench: threads " << o.threads << ", AVX2 " << (cpu_has_avx2() ? "yes" : "no")
            << ", AVX-VNNI " << (cpu_has_avx_vnni() ? "yes" : "no") << ", AVX512-VNNI "
            << (cpu_has_avx512_vnni() ? "yes" : "no") << ", load average " << load0 << "\n";
  nlohmann::json j;
  for (const auto& sh : o.shapes) bench_shape(o, sh.first, sh.second, o.shapes.size() > 1, j);
  const std::string load1 = loadavg();
  std::cout << "load average at end " << load1 << "\n";
  j["threads"] = o.threads;
  j["avx2"] = cpu_has_avx2();
  j["avx_vnni"] = cpu_has_avx_vnni();
  j["avx512_vnni"] = cpu_has_avx512_vnni();
  j["e2m_salient_columns_per_block"] = kSalient;
  j["loadavg"] = {{"start", load0}, {"end", load1}};
  write_bench_files("kernels", j, o.json, o.h5, argc, argv);
  return 0;
}

}  // namespace twla::bench
