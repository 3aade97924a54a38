// kernels/kernels.h: the ternary kernel backend (issue 8): packed formats, CPU and CUDA GEMV/GEMM.
// No libtorch and nothing else of twla's here, so the kernels build standalone.
#pragma once

namespace twla::kernels {

bool cpu_has_avx2();

}  // namespace twla::kernels
