// kernels/kernels.h: the ternary kernel backend (issue 8): packed formats, CPU and CUDA GEMV/GEMM.
// No libtorch and nothing else of twla's here, so the kernels build standalone.
#pragma once

namespace twla::kernels {

bool cpu_has_avx2();      // AVX2 and FMA
bool cpu_has_avx_vnni();  // VEX vpdpbusd (Alder Lake, Sapphire Rapids and later)
// AVX512F + AVX512BW + AVX512-VNNI (Ice Lake, Sapphire Rapids, Zen 4 and later) and the OS saving
// zmm state (XCR0 opmask / ZMM_Hi256 / Hi16_ZMM bits).
bool cpu_has_avx512_vnni();

}  // namespace twla::kernels
