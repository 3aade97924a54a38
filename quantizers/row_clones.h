// quantizers/row_clones.h: how the quantizers' row kernels are compiled. TWLA_CLONES builds a
// function twice, for AVX2 (8-lane vectors native, no FMA: the same IEEE operations, hence the
// same bits as baseline) and for baseline x86-64; the loader picks one per CPU. TWLA_INLINE
// force-inlines helpers so each clone gets its own copy of them.
#pragma once

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define TWLA_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define TWLA_CLONES
#endif
#define TWLA_INLINE __attribute__((always_inline)) inline
