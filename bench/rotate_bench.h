// bench/rotate_bench.h: `twla bench rotate`, the online Hadamard rotation x -> x Q (FWHT plan,
// rotations/hadamard.h) vs a dense f32 matmul by the same Q (OpenBLAS through libtorch), timed in
// the same run after checking that both agree with the f64 reference.
// Not here: the rotation itself (rotations/), the kernel and quantizer benches.
#pragma once

namespace twla::bench {

// argv: [--tokens 2048] [--sizes 4096,11008] [--threads N] [--json FILE] [--min-time S] [--seed S]
int bench_rotate(int argc, char** argv);

}  // namespace twla::bench
