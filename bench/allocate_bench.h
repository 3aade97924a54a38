// bench/allocate_bench.h: `twla bench allocate`, the ILA-AMP NLL measurements timed two ways in
// the same run: naive (every evaluation runs the whole model) and cached (suffix runs from the
// cached block inputs, 1 worker, then N workers). Validation first and last: every cached NLL must
// equal its naive one and the DP allocations must be identical; the exit status says so.
// Besides wall seconds it prints each search's process CPU seconds (the work, robust to other
// load), and the cost model of allocators/ila_amp_cost.h with this machine's unit times (thread
// CPU time of one embedding, block, head and block load): predicted seconds per search and the
// predicted ratio for this L and for L = 16, 32, 80 at 1, 2 and 4 workers.
// --layers L builds a deeper model for "L = 32-like" settings by repeating the model's blocks
// (block i = block i mod L0; untrained as a stack, the same cost per block).
#pragma once

namespace twla::bench {

// argv: [--model DIR] [--layers L] [--windows 8] [--seqlen 128] [--batch 8] [--candidates 2,4,6,8]
//       [--baseline 8] [--avg 4] [--workers N] [--threads N] [--skip-naive] [--json FILE]
int bench_allocate(int argc, char** argv);

}  // namespace twla::bench
