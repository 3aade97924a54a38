// bench/kernels_cuda_bench.h: `twla bench kernels --cuda`: the CUDA kernels' validation and
// timings (against cuBLAS fp16 and a device-to-device copy) through the standalone
// `tq2_cuda_check` (kernels/cuda/standalone_main.cu: CUDA runtime + cuBLAS, no libtorch, so twla
// itself does not load cuBLAS), run as a child process; its JSON becomes this bench's --json /
// --h5 (bench/bench_output.h), as for every other bench.
// Not here: the kernels (kernels/cuda/), the CPU bench (kernels_bench.h).
#pragma once

namespace twla::bench {

// argv: --cuda [--quick] [--no-bench] [--json FILE] [--h5 FILE] [--check PATH]
// PATH: the tq2_cuda_check binary; default $TWLA_CUDA_CHECK, else <twla's folder>/kernels/ or
// <twla's folder>/ (a CMake build tree). Returns the check's exit status.
int bench_kernels_cuda(int argc, char** argv);

}  // namespace twla::bench
