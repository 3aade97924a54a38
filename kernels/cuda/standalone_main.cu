// kernels/cuda/standalone_main.cu: tq2_cuda_check, one binary (CUDA runtime + cuBLAS, no libtorch)
// that validates every tq2 and e2m CUDA kernel against the CPU references (kernels/*_ref.cpp) on
// random shapes, ragged ones included, and only then times them against cuBLAS fp16 GEMM/GEMV
// and a device-to-device copy (the bandwidth roof), with CUDA events.
// usage: tq2_cuda_check [--json FILE] [--quick] [--no-bench]   (scripts/gpu-check.sh builds and runs it)
// The JSON (written atomically, also after a failure) holds every verdict and every timing.
// Exit status: 0 all valid; 1 a kernel failed validation; 2 a CUDA/cuBLAS error.
#include <cublas_v2.h>
#include <cuda_fp16.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "kernels/cuda/check_util.h"
#include "kernels/cuda/e2m_check.h"
#include "kernels/cuda/e2m_cuda.h"
#include "kernels/cuda/tq2_cuda.h"
#include "kernels/tq2.h"

using namespace twla::kernels;
using namespace twla::kernels::cuda;
using namespace twla::kernels::cuda::check;

namespace {

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

void expect_close(const char* what, const Problem& p, int m, const std::vector<float>& got, const std::vector<float>& ref,
                  double cond, double tol_rel) {
  verdict(std::string(what) + " [" + std::to_string(p.oc) + ", " + std::to_string(p.ic) + "] g" + std::to_string(p.gs) +
              " m=" + std::to_string(m),
          got, ref, cond, tol_rel);
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

// GEMV (batch 1, 4, 8) and prefill GEMM (512, 2048 tokens) of tq2 and e2m against cuBLAS fp16.
void bench_shape(cublasHandle_t h, int64_t oc, int64_t ic, bool gemv, bool gemm) {
  Problem p(oc, ic, -1, 3);
  // Rotate copies spanning > 4x the L2 so weights stream from HBM.
  const int nc = int(std::max<size_t>(2, (size_t(512) << 20) / p.buf.size()));
  std::vector<std::unique_ptr<Dev<uint8_t>>> bufs;
  std::vector<Tq2Device> ws;
  for (int i = 0; i < nc; ++i)
    bufs.emplace_back(new Dev<uint8_t>(p.buf)), ws.push_back(tq2_device(p.v, p.buf.data(), bufs.back()->p));
  const int nh = int(std::max<size_t>(2, (size_t(1) << 30) / (size_t(oc) * ic * 2)));
  std::vector<std::unique_ptr<Dev<__half>>> wh;
  for (int i = 0; i < nh; ++i) {
    wh.emplace_back(new Dev<__half>(size_t(oc) * ic));
    TQ2_CUDA(cudaMemset(wh.back()->p, 0, wh.back()->n * 2));  // values do not change the speed
  }
  const int mmax = gemm ? 2048 : 8;
  Dev<__half> dx(size_t(mmax) * p.v.ic_pad), dyh(size_t(mmax) * oc);
  TQ2_CUDA(cudaMemset(dx.p, 0, dx.n * 2));
  Dev<int8_t> dq(size_t(mmax) * p.v.ic_pad);
  TQ2_CUDA(cudaMemset(dq.p, 0, dq.n));
  Dev<float> dy(size_t(mmax) * oc), dsc(mmax), dzp(mmax), dxs(size_t(mmax) * p.v.n_groups);
  Dev<int32_t> dqs(size_t(mmax) * p.v.n_groups);
  TQ2_CUDA(cudaMemset(dsc.p, 0, dsc.n * 4));
  TQ2_CUDA(cudaMemset(dzp.p, 0, dzp.n * 4));
  const float one = 1.f, zero = 0.f;
  auto cublas = [&](int m, int i) {  // y [m, oc] = x [m, ic] W^T, fp16 in/out, fp32 compute
    CUBLAS(cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, int(oc), m, int(ic), &one, wh[i % nh]->p, CUDA_R_16F, int(ic), dx.p,
                        CUDA_R_16F, int(p.v.ic_pad), &zero, dyh.p, CUDA_R_16F, int(oc), CUBLAS_COMPUTE_32F,
                        CUBLAS_GEMM_DEFAULT));
  };
  const std::string tag = std::to_string(oc) + "x" + std::to_string(ic);
  const double wbytes = double(p.buf.size()), hbytes = 2.0 * oc * ic;
  if (gemv) {
    // e2m: its own copies (honest bytes: the whole buffer), the permutation timed with the GEMV.
    E2mProblem pe(oc, ic, 5, 16);
    const int ne = int(std::max<size_t>(2, (size_t(512) << 20) / pe.buf.bytes.size()));
    std::vector<std::unique_ptr<Dev<uint8_t>>> ebufs;
    std::vector<E2mDevice> es;
    for (int i = 0; i < ne; ++i)
      ebufs.emplace_back(new Dev<uint8_t>(pe.buf.bytes)), es.push_back(e2m_device(pe.v, pe.buf.bytes.data(), ebufs.back()->p));
    Dev<__half> dxp(size_t(8) * pe.v.n_blocks * kE2mBlock);
    const double ebytes = double(pe.buf.bytes.size());
    for (int m : {1, 4, 8}) {
      const double fl = 2.0 * m * oc * ic;
      const double tb = time_ms(50, [&](int i) { cublas(m, i); });
      const double tk = time_ms(50, [&](int i) { tq2_gemv(ws[i % nc], dx.p, m, dy.p); });
      const double te = time_ms(50, [&](int i) {
        e2m_permute_f16(es[i % ne], dx.p, m, dxp.p);
        e2m_gemv(es[i % ne], dxp.p, m, dy.p);
      });
      const std::string sm = tag + "_m" + std::to_string(m);
      record("cublas_f16_" + sm, tb, hbytes, fl, 1);
      record("tq2_gemv_" + sm, tk, wbytes, fl, tb / tk);
      record("e2m_gemv_" + sm, te, ebytes, fl, tb / te);
    }
  }
  if (gemm) {
    for (int m : {512, 2048}) {
      const double fl = 2.0 * m * oc * ic;
      const double tb = time_ms(10, [&](int i) { cublas(m, i); });
      // Per call: the group sums and the GEMM (the sums could come with the activation quantizer).
      const double ti = time_ms(10, [&](int i) {
        tq2_group_sums_i8(ws[i % nc], dq.p, m, dqs.p);
        tq2_gemm_i8(ws[i % nc], dq.p, dsc.p, dzp.p, dqs.p, m, dy.p);
      });
      const double tf = time_ms(10, [&](int i) {
        tq2_group_sums_f16(ws[i % nc], dx.p, m, dxs.p);
        tq2_gemm_f16(ws[i % nc], dx.p, dxs.p, m, dy.p);
      });
      const std::string sm = tag + "_m" + std::to_string(m);
      record("cublas_f16_" + sm, tb, hbytes, fl, 1);
      record("tq2_gemm_i8_" + sm, ti, wbytes, fl, tb / ti);
      record("tq2_gemm_f16_" + sm, tf, wbytes, fl, tb / tf);
    }
  }
}

void bench(bool quick) {
  // D2D copy roof: read + write bytes.
  const size_t cp = size_t(1) << 30;
  Dev<uint8_t> c0(cp), c1(cp);
  const double ms = time_ms(10, [&](int) { TQ2_CUDA(cudaMemcpyAsync(c1.p, c0.p, cp, cudaMemcpyDeviceToDevice)); });
  record("d2d_copy_1GiB", ms, 2.0 * cp, 0, 0);
  cublasHandle_t h;
  CUBLAS(cublasCreate(&h));
  // The issue's targets first: GEMV 8192^2 (batch 1), prefill GEMM 2048 tokens x (4096 x 11008).
  bench_shape(h, 8192, 8192, true, false);
  bench_shape(h, 4096, 11008, false, true);
  const int ms_e2m[] = {512, 2048};
  bench_e2m_gemm(h, 4096, 11008, ms_e2m, 2);
  if (!quick) {
    bench_shape(h, 4096, 4096, true, true);
    bench_shape(h, 11008, 4096, true, true);
    bench_shape(h, 16384, 16384, true, false);
  }
  cublasDestroy(h);
}

// Atomic: write FILE.tmp, then rename.
std::string quoted(const std::string& s) {  // a JSON string
  std::string q = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') q += '\\', q += c;
    else if (c == '\n') q += "\\n";
    else if (static_cast<unsigned char>(c) >= 0x20) q += c;
  }
  return q + "\"";
}

bool write_json(const std::string& path, const std::string& device, const char* status, const std::string& error) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp);
    f << "{\n  \"device\": " << quoted(device) << ",\n  \"status\": " << quoted(status) << ",\n  \"error\": "
      << quoted(error) << ",\n  \"checks\": " << checks
      << ",\n  \"failures\": " << failures << ",\n  \"validation\": {" << json_checks.str() << "\n  },\n  \"figures\": {"
      << json_figures.str() << "\n  }\n}\n";
    if (!f) return false;
  }
  return std::rename(tmp.c_str(), path.c_str()) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string json_path;
  bool quick = false, no_bench = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--json" && i + 1 < argc) json_path = argv[++i];
    else if (a == "--quick") quick = true;
    else if (a == "--no-bench") no_bench = true;
    else return std::fprintf(stderr, "usage: tq2_cuda_check [--json FILE] [--quick] [--no-bench]\n"), 2;
  }
  std::string device = "?", error;
  int rc = 0;
  const char* status = "ok";
  try {
    cudaDeviceProp prop;
    TQ2_CUDA(cudaGetDeviceProperties(&prop, 0));
    device = std::string(prop.name) + " sm_" + std::to_string(prop.major) + std::to_string(prop.minor);
    std::printf("device: %s (%.1f GiB)\nvalidation against the CPU references:\n", device.c_str(),
                prop.totalGlobalMem / 1073741824.0);
    validate(quick);
    validate_e2m(quick);
    std::printf("%d of %d validation checks failed\n", failures, checks);
    if (failures) {
      rc = 1, status = "validation failed";  // never time a wrong kernel
    } else if (!no_bench) {
      std::printf("\ntimings (CUDA events; weights rotate through copies > L2):\n");
      bench(quick);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tq2_cuda_check: %s\n", e.what());
    rc = 2, status = "CUDA/cuBLAS error", error = e.what();
  }
  if (!json_path.empty()) {
    if (!write_json(json_path, device, status, error)) return std::fprintf(stderr, "tq2_cuda_check: cannot write %s\n", json_path.c_str()), 2;
    std::printf("wrote %s\n", json_path.c_str());
  }
  return rc;
}
