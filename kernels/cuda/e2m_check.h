// kernels/cuda/e2m_check.h: the e2m part of tq2_cuda_check: the
// validation of every e2m CUDA kernel against the CPU references (kernels/e2m_ref.cpp) and the
// prefill GEMM timing against cuBLAS fp16. The tq2 part and main(): standalone_main.cu.
#pragma once
#include <cublas_v2.h>

#include <cstdint>

#include "kernels/cuda/e2m_problem.h"

namespace twla::kernels::cuda::check {

// gemv (batch 1..8), prep, row sums, gemm_i8 and gemm_f16 on ragged shapes; verdicts via verdict().
void validate_e2m(bool quick);
// Timings of prep + gemm (i8 and f16) and cuBLAS fp16 at oc x ic for each m (16 salient columns
// per block, as E2M-ATQ's default).
void bench_e2m_gemm(cublasHandle_t h, int64_t oc, int64_t ic, const int* ms, int n_ms);

}  // namespace twla::kernels::cuda::check
