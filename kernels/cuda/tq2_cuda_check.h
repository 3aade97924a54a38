// kernels/cuda/tq2_cuda_check.h: one CUDA error channel for the tq2 CUDA files (throws
// std::runtime_error naming the call), shared by the kernels and the standalone check.
#pragma once
#include <cuda_runtime.h>

namespace twla::kernels::cuda {

void check_cuda(cudaError_t e, const char* what);

}  // namespace twla::kernels::cuda

#define TQ2_CUDA(call) ::twla::kernels::cuda::check_cuda((call), #call)
