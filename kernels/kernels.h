// kernels/kernels.h: the ternary kernel backend (issue 8): packed formats, CPU and CUDA GEMV/GEMM.
// No libtorch and nothing else of twla's here, so the kernels build standalone.
#pragma once

namespace twla::kernels {

bool cpu_has_avx2();      // AVX2 and FMA
bool cpu_has_avx_vnni();  // VEX vpdpbusd (Alder Lake, Sapphire Rapids and later)

}  // namespace twla::kernels
