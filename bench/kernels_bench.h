// bench/kernels_bench.h: `twla bench kernels`, the CPU tq2 kernels against OpenBLAS fp32 sgemv /
// sgemm and the machine's memory-read roof, all timed in the same run after validation.
// Not here: the CUDA bench (`--cuda`: kernels_cuda_bench.h, kernels/cuda/standalone_main.cu).
#pragma once

namespace twla::bench {

// argv: [--shape OCxIC[,OCxIC...]] [--batch 1,4,16] [--threads N] [--json FILE] [--h5 FILE] [--min-time S]
// [--pool-mib M]
int bench_kernels(int argc, char** argv);

}  // namespace twla::bench
