// kernels/cuda/e2m_check.cu: the e2m part of tq2_cuda_check (see e2m_check.h): validation of the
// e2m CUDA kernels against kernels/e2m_ref.cpp on ragged shapes and the prefill GEMM timings.
#include "kernels/cuda/e2m_check.h"

#include <cuda_fp16.h>

#include <memory>
#include <random>

#include "kernels/cuda/check_util.h"
#include "kernels/cuda/e2m_cuda.h"

namespace twla::kernels::cuda::check {

namespace {

// max over (b, o) of sum_k |x[b, k] W[o, k]|: the scale of the dot products (tolerance unit).
double cond_of(const std::vector<float>& W, const std::vector<double>& x, int64_t oc, int64_t ic, int m) {
  double c = 0;
  for (int b = 0; b < m; ++b)
    for (int64_t o = 0; o < oc; ++o) {
      double s = 0;
      for (int64_t k = 0; k < ic; ++k) s += std::fabs(x[b * ic + k] * W[o * ic + k]);
      c = std::max(c, s);
    }
  return c;
}

std::string tag(const char* kernel, const E2mProblem& p, const char* kind, int m) {
  return std::string(kernel) + " [" + std::to_string(p.oc) + ", " + std::to_string(p.ic) + "] " + kind +
         " m=" + std::to_string(m);
}

void validate_one(const E2mProblem& p, const char* kind, std::mt19937& rng) {
  Dev<uint8_t> dbuf(p.buf.bytes);
  const E2mDevice w = e2m_device(p.v, p.buf.bytes.data(), dbuf.p);
  const int64_t oc = p.oc, ic = p.ic, nb = p.v.n_blocks;
  std::vector<float> W(oc * ic);
  e2m_dequantize(p.v, W.data());
  // Row sums (the int8 GEMM's zero-point term).
  {
    Dev<float> dws(oc);
    e2m_row_sums(w, dws.p);
    TQ2_CUDA(cudaDeviceSynchronize());
    std::vector<float> ref(oc);
    double cond = 0;
    for (int64_t o = 0; o < oc; ++o) {
      double s = 0, a = 0;
      for (int64_t k = 0; k < ic; ++k) s += W[o * ic + k], a += std::fabs(W[o * ic + k]);
      ref[o] = float(s), cond = std::max(cond, a);
    }
    verdict(tag("e2m_row_sums", p, kind, 1), dws.get(), ref, cond, 1e-5);
  }
  std::normal_distribution<float> nd(0.f, 1.f);
  for (int m : {1, 2, 3, 5, 8, 17, 64, 100, 300}) {
    if (m > 64 && oc * ic > (1 << 20)) continue;  // the host references would take minutes
    // fp16 x and its exact values.
    std::vector<__half> xh(m * ic);
    std::vector<float> xf(m * ic), ref(m * oc);
    std::vector<double> xd(m * ic);
    for (int64_t i = 0; i < m * ic; ++i) xh[i] = __float2half(nd(rng)), xf[i] = xd[i] = __half2float(xh[i]);
    e2m_gemm_f32_ref(p.v, xf.data(), m, ref.data());
    double cond = cond_of(W, xd, oc, ic, m);
    Dev<__half> dx(xh), dxp(size_t(m) * nb * kE2mBlock);
    Dev<float> dy(m * oc), drs(size_t(m) * nb * 2);
    if (m <= 8) {
      e2m_permute_f16(w, dx.p, m, dxp.p);
      e2m_gemv(w, dxp.p, m, dy.p);
      TQ2_CUDA(cudaDeviceSynchronize());
      verdict(tag("e2m_gemv", p, kind, m), dy.get(), ref, cond, 1e-5);
    }
    TQ2_CUDA(cudaMemset(dxp.p, 0xff, dxp.n * sizeof(__half)));  // the prep must write every element (NaN otherwise)
    e2m_prep_f16(w, dx.p, m, dxp.p, drs.p);
    e2m_gemm_f16(w, dxp.p, drs.p, m, dy.p);
    TQ2_CUDA(cudaDeviceSynchronize());
    verdict(tag("e2m_gemm_f16", p, kind, m), dy.get(), ref, cond, 1e-5);
    // 4-bit per-token asymmetric codes with scale and zero point.
    std::vector<uint8_t> q(m * ic);
    std::vector<int8_t> qi(m * ic);
    std::vector<float> sc(m), zp(m);
    for (int64_t i = 0; i < m * ic; ++i) q[i] = uint8_t(rng() % 16), qi[i] = int8_t(q[i]);
    for (int b = 0; b < m; ++b) sc[b] = 0.01f + 0.1f * (rng() % 100) / 100.f, zp[b] = float(rng() % 16);
    e2m_gemm_act_ref(p.v, q.data(), sc.data(), zp.data(), m, ref.data());
    for (int b = 0; b < m; ++b)
      for (int64_t k = 0; k < ic; ++k) xd[b * ic + k] = (double(q[b * ic + k]) - zp[b]) * sc[b];
    cond = cond_of(W, xd, oc, ic, m);
    Dev<int8_t> dq(qi), dqp(size_t(m) * nb * kE2mBlock);
    Dev<int32_t> dqs(size_t(m) * nb * 2);
    Dev<float> dsc(sc), dzp(zp), dws(oc);
    e2m_row_sums(w, dws.p);
    e2m_prep_i8(w, dq.p, m, dqp.p, dqs.p);
    e2m_gemm_i8(w, dqp.p, dqs.p, dsc.p, dzp.p, dws.p, m, dy.p);
    TQ2_CUDA(cudaDeviceSynchronize());
    verdict(tag("e2m_gemm_i8", p, kind, m), dy.get(), ref, cond, 1e-5);
  }
}

}  // namespace

void validate_e2m(bool quick) {
  struct S { int64_t oc, ic; };
  std::vector<S> shapes = {{1, 1}, {3, 100}, {65, 257}, {130, 384}, {77, 1000}, {129, 4100}};
  if (!quick) shapes.push_back({1024, 4096});
  std::mt19937 rng(9);
  for (const S& s : shapes) {
    const uint32_t seed = uint32_t(s.oc * 17 + s.ic);
    validate_one(E2mProblem(s.oc, s.ic, seed), "rand<64", rng);
    // Salient counts that reach the second half of a block, none, and GPTQ-ternary's all-A form.
    if (s.ic >= 100 && s.oc * s.ic <= (1 << 20)) {
      validate_one(E2mProblem(s.oc, s.ic, seed + 1, -1, 128), "rand<=128", rng);
      validate_one(E2mProblem(s.oc, s.ic, seed + 2, 0), "no-salient", rng);
      validate_one(E2mProblem(s.oc, s.ic, seed + 3, -1, 0, true), "all-A", rng);
    }
  }
}

void bench_e2m_gemm(cublasHandle_t h, int64_t oc, int64_t ic, const int* ms, int n_ms) {
  E2mProblem p(oc, ic, 11, 16);
  const int64_t nb = p.v.n_blocks;
  // Rotate weight copies spanning > 4x the L2 so weights stream from HBM, as in a model.
  const int ne = int(std::max<size_t>(2, (size_t(512) << 20) / p.buf.bytes.size()));
  std::vector<std::unique_ptr<Dev<uint8_t>>> bufs;
  std::vector<E2mDevice> ws;
  for (int i = 0; i < ne; ++i)
    bufs.emplace_back(new Dev<uint8_t>(p.buf.bytes)), ws.push_back(e2m_device(p.v, p.buf.bytes.data(), bufs.back()->p));
  const int nh = int(std::max<size_t>(2, (size_t(1) << 30) / (size_t(oc) * ic * 2)));
  std::vector<std::unique_ptr<Dev<__half>>> wh;
  for (int i = 0; i < nh; ++i) {
    wh.emplace_back(new Dev<__half>(size_t(oc) * ic));
    TQ2_CUDA(cudaMemset(wh.back()->p, 0, wh.back()->n * 2));  // values do not change the speed
  }
  const int mmax = *std::max_element(ms, ms + n_ms);
  Dev<__half> dx(size_t(mmax) * ic), dxp(size_t(mmax) * nb * kE2mBlock), dyh(size_t(mmax) * oc);
  Dev<int8_t> dq(size_t(mmax) * ic), dqp(size_t(mmax) * nb * kE2mBlock);
  Dev<float> dy(size_t(mmax) * oc), drs(size_t(mmax) * nb * 2), dsc(mmax), dzp(mmax), dws(oc);
  Dev<int32_t> dqs(size_t(mmax) * nb * 2);
  TQ2_CUDA(cudaMemset(dx.p, 0, dx.n * 2));
  TQ2_CUDA(cudaMemset(dq.p, 0, dq.n));
  TQ2_CUDA(cudaMemset(dsc.p, 0, dsc.n * 4));
  TQ2_CUDA(cudaMemset(dzp.p, 0, dzp.n * 4));
  e2m_row_sums(ws[0], dws.p);  // once per weight (load time), not per call
  const float one = 1.f, zero = 0.f;
  const std::string shape = std::to_string(oc) + "x" + std::to_string(ic);
  for (int k = 0; k < n_ms; ++k) {
    const int m = ms[k];
    const double fl = 2.0 * m * oc * ic;
    const double tb = time_ms(10, [&](int i) {
      CUBLAS(cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, int(oc), m, int(ic), &one, wh[i % nh]->p, CUDA_R_16F, int(ic), dx.p,
                          CUDA_R_16F, int(ic), &zero, dyh.p, CUDA_R_16F, int(oc), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    });
    const double ti = time_ms(10, [&](int i) {
      e2m_prep_i8(ws[i % ne], dq.p, m, dqp.p, dqs.p);
      e2m_gemm_i8(ws[i % ne], dqp.p, dqs.p, dsc.p, dzp.p, dws.p, m, dy.p);
    });
    const double tf = time_ms(10, [&](int i) {
      e2m_prep_f16(ws[i % ne], dx.p, m, dxp.p, drs.p);
      e2m_gemm_f16(ws[i % ne], dxp.p, drs.p, m, dy.p);
    });
    const double tp = time_ms(10, [&](int i) { e2m_prep_i8(ws[i % ne], dq.p, m, dqp.p, dqs.p); });
    const std::string sm = shape + "_m" + std::to_string(m);
    record("cublas_f16_" + sm, tb, 2.0 * oc * ic, fl, 1);
    record("e2m_gemm_i8_" + sm, ti, double(p.buf.bytes.size()), fl, tb / ti);
    record("e2m_gemm_f16_" + sm, tf, double(p.buf.bytes.size()), fl, tb / tf);
    record("e2m_prep_i8_" + sm, tp, double(m) * ic * 2, 0, tb / tp);
  }
}

}  // namespace twla::kernels::cuda::check
