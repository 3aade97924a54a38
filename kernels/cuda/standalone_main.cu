// kernels/cuda/standalone_main.cu: tq2_cuda_check, one binary (CUDA runtime + cuBLAS, no libtorch)
// that validates every tq2 and e2m CUDA kernel against the CPU references (kernels/*_ref.cpp) on
// random shapes, ragged ones included, and only then times them against cuBLAS fp16 GEMM/GEMV
// and a device-to-device copy (the bandwidth roof), with CUDA events.
// usage: tq2_cuda_check [--json FILE] [--quick]    (scripts/gpu-check.sh builds and runs it)
// Exit status: 0 all valid; 1 a kernel failed validation; 2 a CUDA/cuBLAS error.
#include <cublas_v2.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <functional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/cuda/e2m_cuda.h"
#include "kernels/cuda/tq2_cuda.h"
#include "kernels/cuda/tq2_cuda_check.h"
#include "kernels/e2m.h"
#include "kernels/tq2.h"

using namespace twla::kernels;
using namespace twla::kernels::cuda;

namespace {
#define CUBLAS(call)                                                                        \
  do {                                                                                      \
    cublasStatus_t st_ = (call);                                                            \
    if (st_ != CUBLAS_STATUS_SUCCESS) throw std::runtime_error("cuBLAS error " + std::to_string(int(st_)) + " in " #call); \
  } while (0)

template <class T>
struct Dev {  // a device array
  T* p = nullptr;
  size_t n = 0;
  explicit Dev(size_t n_) : n(n_) { TQ2_CUDA(cudaMalloc(&p, std::max<size_t>(1, n) * sizeof(T))); }
  Dev(const std::vector<T>& h) : Dev(h.size()) { TQ2_CUDA(cudaMemcpy(p, h.data(), n * sizeof(T), cudaMemcpyHostToDevice)); }
  ~Dev() { cudaFree(p); }
  Dev(const Dev&) = delete;
  std::vector<T> get() const {
    std::vector<T> h(n);
    TQ2_CUDA(cudaMemcpy(h.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost));
    return h;
  }
};

struct Problem {  // random ternary weights packed as tq2, on host and device
  int64_t oc, ic, gs;
  std::vector<uint8_t> buf;
  Tq2View v;
  Problem(int64_t oc_, int64_t ic_, int64_t gs_, uint32_t seed) : oc(oc_), ic(ic_), gs(gs_) {
    std::mt19937 rng(seed);
    int64_t G = gs <= 0 ? 1 : ic / gs;
    std::vector<int8_t> c(oc * ic);
    std::vector<float> al(oc * G), mu(oc * G);
    for (auto& t : c) t = int8_t(int(rng() % 3) - 1);
    for (int64_t i = 0; i < oc * G; ++i) al[i] = 0.01f + 0.05f * (rng() % 1000) / 1000.f, mu[i] = 0.002f * (int(rng() % 1000) - 500) / 500.f;
    buf = tq2_pack(c.data(), al.data(), mu.data(), oc, ic, gs);
    v = tq2_view(buf.data(), buf.size());
  }
};

// max |a - b| <= tol_rel * cond + 1e-6, cond = max_m,n sum_k |x w| (the dot products' scale).
double cond_scale(const Tq2View& v, const std::vector<float>& xd, int m) {
  double c = 0;
  for (int b = 0; b < m; ++b)
    for (int64_t o = 0; o < v.oc; ++o) {
      double s = 0;
      for (int64_t k = 0; k < v.ic; ++k) {
        int64_t g = k / v.group_size;
        s += std::fabs(xd[b * v.ic + k] * (v.mu[o * v.n_groups + g] + v.alpha[o * v.n_groups + g] * tq2_code(v, o, k)));
      }
      c = std::max(c, s);
    }
  return c;
}

int failures = 0;
void expect_close(const char* what, const Problem& p, int m, const std::vector<float>& got, const std::vector<float>& ref,
                  double cond, double tol_rel) {
  double e = 0;
  for (size_t i = 0; i < ref.size(); ++i) e = std::max(e, std::fabs(double(got[i]) - ref[i]));
  bool ok = e <= tol_rel * cond + 1e-6 && std::isfinite(e);
  if (!ok) ++failures;
  std::printf("  %-9s [%5ld, %5ld] g%-5ld m=%-4d max err %.3g (limit %.3g) %s\n", what, long(p.oc), long(p.ic),
              long(p.gs), m, e, tol_rel * cond + 1e-6, ok ? "ok" : "FAIL");
}

void validate(bool quick) {
  struct S { int64_t oc, ic, gs; };
  std::vector<S> shapes = {{1, 1, -1}, {3, 100, -1}, {65, 257, -1}, {130, 384, 128}, {77, 1000, -1}, {256, 1024, 256}, {129, 4100, -1}};
  if (!quick) shapes.push_back({1024, 4096, 128});
  std::mt19937 rng(7);
  for (const S& s : shapes) {
    Problem p(s.oc, s.ic, s.gs, uint32_t(s.oc * 31 + s.ic));
    Dev<uint8_t> dbuf(p.buf);
    Tq2Device w = tq2_device(p.v, p.buf.data(), dbuf.p);
    for (int m : {1, 2, 3, 5, 8, 17, 64, 100, 300}) {
      if (m > 64 && p.oc * p.ic > (1 << 20)) continue;  // the host references would take minutes
      // fp16 x (zero pad) and its exact fp32 values for the reference.
      std::vector<__half> xh(m * p.v.ic_pad, __float2half(0.f));
      std::vector<float> xf(m * p.ic);
      std::normal_distribution<float> nd(0.f, 1.f);
      for (int b = 0; b < m; ++b)
        for (int64_t k = 0; k < p.ic; ++k) xh[b * p.v.ic_pad + k] = __float2half(nd(rng)), xf[b * p.ic + k] = __half2float(xh[b * p.v.ic_pad + k]);
      std::vector<float> ref(m * p.oc);
      tq2_gemm_f32_ref(p.v, xf.data(), m, ref.data());
      double cond = cond_scale(p.v, xf, m);
      Dev<__half> dx(xh);
      Dev<float> dy(m * p.oc);
      if (m <= 8) {
        tq2_gemv(w, dx.p, m, dy.p);
        TQ2_CUDA(cudaDeviceSynchronize());
        expect_close("gemv", p, m, dy.get(), ref, cond, 1e-5);
      }
      Dev<float> dxs(m * p.v.n_groups);
      tq2_group_sums_f16(w, dx.p, m, dxs.p);
      tq2_gemm_f16(w, dx.p, dxs.p, m, dy.p);
      TQ2_CUDA(cudaDeviceSynchronize());
      expect_close("gemm_f16", p, m, dy.get(), ref, cond, 1e-5);
      // 4-bit per-token asymmetric codes, scale and zero point.
      std::vector<uint8_t> q(m * p.ic);
      std::vector<float> sc(m), zp(m);
      for (auto& c : q) c = uint8_t(rng() % 16);
      for (int b = 0; b < m; ++b) sc[b] = 0.01f + 0.1f * (rng() % 100) / 100.f, zp[b] = float(rng() % 16);
      Tq2Act a = tq2_act_from_codes(p.v, q.data(), sc.data(), zp.data(), m);
      tq2_gemm_act_ref(p.v, a, ref.data());
      std::vector<float> xd(m * p.ic);
      for (int b = 0; b < m; ++b)
        for (int64_t k = 0; k < p.ic; ++k) xd[b * p.ic + k] = (q[b * p.ic + k] - zp[b]) * sc[b];
      std::vector<int8_t> qi(a.q.begin(), a.q.end());  // padded [m, ic_pad]; 4-bit codes fit int8
      Dev<int8_t> dq(qi);
      Dev<float> dsc(sc), dzp(zp);
      Dev<int32_t> dqs(m * p.v.n_groups);
      tq2_group_sums_i8(w, dq.p, m, dqs.p);
      tq2_gemm_i8(w, dq.p, dsc.p, dzp.p, dqs.p, m, dy.p);
      TQ2_CUDA(cudaDeviceSynchronize());
      expect_close("gemm_i8", p, m, dy.get(), ref, cond_scale(p.v, xd, m), 1e-5);
    }
  }
}

// Random E2M-ATQ-like weights packed as e2m: per block up to 63 random salient columns (groups
// 0/1, two trit planes), the rest in groups 2/3.
struct E2mProblem {
  int64_t oc, ic;
  E2mBuffer buf;
  E2mView v;
  E2mProblem(int64_t oc_, int64_t ic_, uint32_t seed) : oc(oc_), ic(ic_) {
    std::mt19937 rng(seed);
    const int64_t nb = (ic + kE2mBlock - 1) / kE2mBlock;
    std::vector<uint8_t> group(oc * ic), sal(ic, 0);
    std::vector<int8_t> t0(oc * ic), t1(oc * ic, 0);
    for (int64_t st = 0; st < ic; st += kE2mBlock)
      for (int n = int(rng() % 64), j = 0; j < n; ++j) sal[st + int64_t(rng() % uint32_t(std::min(kE2mBlock, ic - st)))] = 1;
    for (int64_t i = 0; i < oc * ic; ++i) {
      const uint32_t r = rng();
      group[i] = uint8_t((sal[i % ic] ? 0 : 2) + (r & 1));
      t0[i] = int8_t(int((r >> 8) % 3) - 1);
      if (sal[i % ic]) t1[i] = int8_t(int((r >> 16) % 3) - 1);
    }
    std::vector<float> mu(oc * nb * 4), a0(oc * nb * 4), a1(oc * nb * 4);
    for (size_t i = 0; i < mu.size(); ++i)
      mu[i] = 0.002f * (int(rng() % 1000) - 500) / 500.f, a0[i] = 0.01f + 0.05f * (rng() % 1000) / 1000.f, a1[i] = a0[i] / 3;
    E2mSource src;
    src.oc = oc, src.ic = ic, src.groups = 4, src.group = group.data(), src.t0 = t0.data(), src.t1 = t1.data();
    src.mu = mu.data(), src.alpha0 = a0.data(), src.alpha1 = a1.data();
    buf = e2m_pack(src);
    v = buf.view();
  }
};

void validate_e2m(bool quick) {
  struct S { int64_t oc, ic; };
  std::vector<S> shapes = {{1, 1}, {3, 100}, {65, 257}, {130, 384}, {77, 1000}, {129, 4100}};
  if (!quick) shapes.push_back({1024, 4096});
  std::mt19937 rng(9);
  for (const S& s : shapes) {
    E2mProblem p(s.oc, s.ic, uint32_t(s.oc * 17 + s.ic));
    Dev<uint8_t> dbuf(p.buf.bytes);
    E2mDevice w = e2m_device(p.v, p.buf.bytes.data(), dbuf.p);
    std::vector<float> W(p.oc * p.ic);
    e2m_dequantize(p.v, W.data());
    for (int m = 1; m <= 8; ++m) {
      std::vector<__half> xh(m * p.ic);
      std::vector<float> xf(m * p.ic), ref(m * p.oc);
      std::normal_distribution<float> nd(0.f, 1.f);
      for (int64_t i = 0; i < m * p.ic; ++i) xh[i] = __float2half(nd(rng)), xf[i] = __half2float(xh[i]);
      e2m_gemm_f32_ref(p.v, xf.data(), m, ref.data());
      double cond = 0;
      for (int b = 0; b < m; ++b)
        for (int64_t o = 0; o < p.oc; ++o) {
          double c = 0;
          for (int64_t k = 0; k < p.ic; ++k) c += std::fabs(double(xf[b * p.ic + k]) * W[o * p.ic + k]);
          cond = std::max(cond, c);
        }
      Dev<__half> dx(xh), dxp(size_t(m) * p.v.n_blocks * kE2mBlock);
      Dev<float> dy(m * p.oc);
      e2m_permute_f16(w, dx.p, m, dxp.p);
      e2m_gemv(w, dxp.p, m, dy.p);
      TQ2_CUDA(cudaDeviceSynchronize());
      const std::vector<float> got = dy.get();
      double e = 0;
      for (size_t i = 0; i < ref.size(); ++i) e = std::max(e, std::fabs(double(got[i]) - ref[i]));
      const bool ok = e <= 1e-5 * cond + 1e-6 && std::isfinite(e);
      failures += !ok;
      std::printf("  %-9s [%5ld, %5ld] m=%-4d max err %.3g (limit %.3g) %s\n", "e2m_gemv", long(p.oc), long(p.ic), m, e,
                  1e-5 * cond + 1e-6, ok ? "ok" : "FAIL");
    }
  }
}

// Mean ms per call over `iters` calls after a warm-up, CUDA events.
double time_ms(int iters, const std::function<void(int)>& fn) {
  fn(0);
  cudaEvent_t a, b;
  TQ2_CUDA(cudaEventCreate(&a));
  TQ2_CUDA(cudaEventCreate(&b));
  TQ2_CUDA(cudaEventRecord(a));
  for (int i = 1; i <= iters; ++i) fn(i);
  TQ2_CUDA(cudaEventRecord(b));
  TQ2_CUDA(cudaEventSynchronize(b));
  float ms = 0;
  TQ2_CUDA(cudaEventElapsedTime(&ms, a, b));
  cudaEventDestroy(a), cudaEventDestroy(b);
  TQ2_CUDA(cudaGetLastError());
  return ms / iters;
}

std::ostringstream json;
void record(const std::string& name, double ms, double gbps, double tflops, double ratio) {
  std::printf("%-28s %9.4f ms %9.1f GB/s %8.2f TFLOP/s %7.2fx cuBLAS\n", name.c_str(), ms, gbps, tflops, ratio);
  json << (json.tellp() > 1 ? ",\n" : "\n") << "    \"" << name << "\": {\"ms\": " << ms << ", \"gbps\": " << gbps
       << ", \"tflops\": " << tflops << ", \"speedup_vs_cublas\": " << ratio << "}";
}

void bench(bool quick) {
  // D2D copy roof: read + write bytes.
  const size_t cp = size_t(1) << 30;
  Dev<uint8_t> c0(cp), c1(cp);
  double ms = time_ms(10, [&](int) { TQ2_CUDA(cudaMemcpyAsync(c1.p, c0.p, cp, cudaMemcpyDeviceToDevice)); });
  double roof = 2.0 * cp / ms / 1e6;
  record("d2d_copy_1GiB", ms, roof, 0, 0);
  cublasHandle_t h;
  CUBLAS(cublasCreate(&h));
  std::vector<std::pair<int64_t, int64_t>> shapes = {{4096, 4096}, {16384, 16384}};
  if (!quick) shapes.insert(shapes.begin() + 1, {11008, 4096});
  for (auto sh : shapes) {
    const int64_t oc = sh.first, ic = sh.second;
    Problem p(oc, ic, -1, 3);
    // Rotate copies spanning > 4x the L2 so weights stream from HBM.
    const int nc = int(std::max<size_t>(2, (size_t(512) << 20) / p.buf.size()));
    std::vector<std::unique_ptr<Dev<uint8_t>>> bufs;
    std::vector<Tq2Device> ws;
    for (int i = 0; i < nc; ++i) bufs.emplace_back(new Dev<uint8_t>(p.buf)), ws.push_back(tq2_device(p.v, p.buf.data(), bufs.back()->p));
    const int nh = int(std::max<size_t>(2, (size_t(1) << 30) / (size_t(oc) * ic * 2)));
    std::vector<std::unique_ptr<Dev<__half>>> wh;
    for (int i = 0; i < nh; ++i) {
      wh.emplace_back(new Dev<__half>(size_t(oc) * ic));
      TQ2_CUDA(cudaMemset(wh.back()->p, 0, wh.back()->n * 2));  // values do not change the speed
    }
    const int mmax = 2048;
    Dev<__half> dx(size_t(mmax) * p.v.ic_pad), dyh(size_t(mmax) * oc);
    TQ2_CUDA(cudaMemset(dx.p, 0, dx.n * 2));
    Dev<int8_t> dq(size_t(mmax) * p.v.ic_pad);
    TQ2_CUDA(cudaMemset(dq.p, 0, dq.n));
    Dev<float> dy(size_t(mmax) * oc), dsc(mmax), dzp(mmax), dxs(mmax);
    Dev<int32_t> dqs(mmax);
    const float one = 1.f, zero = 0.f;
    auto cublas = [&](int m, int i) {  // y [m, oc] = x [m, ic] W^T, fp16 in/out, fp32 compute
      CUBLAS(cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, int(oc), m, int(ic), &one, wh[i % nh]->p, CUDA_R_16F, int(ic), dx.p,
                          CUDA_R_16F, int(p.v.ic_pad), &zero, dyh.p, CUDA_R_16F, int(oc), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    };
    const std::string tag = std::to_string(oc) + "x" + std::to_string(ic);
    const double wbytes = double(p.buf.size()), hbytes = 2.0 * oc * ic;
    // e2m: its own copies (honest bytes: the whole buffer), the permutation timed with the GEMV.
    E2mProblem pe(oc, ic, 5);
    const int ne = int(std::max<size_t>(2, (size_t(512) << 20) / pe.buf.bytes.size()));
    std::vector<std::unique_ptr<Dev<uint8_t>>> ebufs;
    std::vector<E2mDevice> es;
    for (int i = 0; i < ne; ++i)
      ebufs.emplace_back(new Dev<uint8_t>(pe.buf.bytes)), es.push_back(e2m_device(pe.v, pe.buf.bytes.data(), ebufs.back()->p));
    Dev<__half> dxp(size_t(8) * pe.v.n_blocks * kE2mBlock);
    const double ebytes = double(pe.buf.bytes.size());
    for (int m : {1, 4, 8}) {
      double tb = time_ms(50, [&](int i) { cublas(m, i); });
      double tk = time_ms(50, [&](int i) { tq2_gemv(ws[i % nc], dx.p, m, dy.p); });
      double te = time_ms(50, [&](int i) { e2m_permute_f16(es[i % ne], dx.p, m, dxp.p), e2m_gemv(es[i % ne], dxp.p, m, dy.p); });
      record("cublas_f16_" + tag + "_m" + std::to_string(m), tb, hbytes / tb / 1e6, 2.0 * m * oc * ic / tb / 1e9, 1);
      record("tq2_gemv_" + tag + "_m" + std::to_string(m), tk, wbytes / tk / 1e6, 2.0 * m * oc * ic / tk / 1e9, tb / tk);
      record("e2m_gemv_" + tag + "_m" + std::to_string(m), te, ebytes / te / 1e6, 2.0 * m * oc * ic / te / 1e9, tb / te);
    }
    ebufs.clear();
    for (int m : {512, 2048}) {
      double tb = time_ms(10, [&](int i) { cublas(m, i); });
      double ti = time_ms(10, [&](int i) { tq2_gemm_i8(ws[i % nc], dq.p, dsc.p, dzp.p, dqs.p, m, dy.p); });
      double tf = time_ms(10, [&](int i) { tq2_gemm_f16(ws[i % nc], dx.p, dxs.p, m, dy.p); });
      double fl = 2.0 * m * oc * ic / 1e9;
      record("cublas_f16_" + tag + "_m" + std::to_string(m), tb, hbytes / tb / 1e6, fl / tb, 1);
      record("tq2_gemm_i8_" + tag + "_m" + std::to_string(m), ti, wbytes / ti / 1e6, fl / ti, tb / ti);
      record("tq2_gemm_f16_" + tag + "_m" + std::to_string(m), tf, wbytes / tf / 1e6, fl / tf, tb / tf);
    }
  }
  cublasDestroy(h);
}

}  // namespace

int main(int argc, char** argv) {
  std::string json_path;
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--json" && i + 1 < argc) json_path = argv[++i];
    else if (a == "--quick") quick = true;
    else return std::fprintf(stderr, "usage: tq2_cuda_check [--json FILE] [--quick]\n"), 2;
  }
  try {
    cudaDeviceProp prop;
    TQ2_CUDA(cudaGetDeviceProperties(&prop, 0));
    std::printf("device: %s (sm_%d%d, %.1f GiB)\nvalidation against the CPU references:\n", prop.name, prop.major,
                prop.minor, prop.totalGlobalMem / 1073741824.0);
    validate(quick);
    validate_e2m(quick);
    std::printf("%d validation failure(s)\n", failures);
    if (failures) return 1;  // never time a wrong kernel
    std::printf("\ntimings (CUDA events; weights rotate through copies > L2):\n");
    bench(quick);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tq2_cuda_check: %s\n", e.what());
    return 2;
  }
  if (!json_path.empty()) {
    std::ofstream(json_path) << "{\n  \"failures\": " << failures << ",\n  \"figures\": {" << json.str() << "\n  }\n}\n";
    std::printf("wrote %s\n", json_path.c_str());
  }
  return 0;
}
