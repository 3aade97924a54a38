// bench/quantize_bench.h: `twla bench quantize`, wall time of E2M-ATQ and GPTQ (4-bit g128) on one
// synthetic linear layer, with the reference implementations' published timings as the baseline.
// Not here: the kernels bench (kernels_bench.h), the quantizers themselves (quantizers/).
#pragma once

namespace twla::bench {

// argv: [--shape OCxIC] [--threads N] [--thread-counts 1,2] [--stats-threads 1] [--json FILE]
//       [--seqs 16] [--tokens 2048] [--seed S] [--skip-e2m] [--skip-gptq]
// Exit 1 when an output fails validation or the Q hashes differ between thread counts.
int bench_quantize(int argc, char** argv);

}  // namespace twla::bench
