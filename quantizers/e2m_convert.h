// quantizers/e2m_convert.h: an "e2m" PackedWeight (E2M-ATQ's output, quantizers/e2m_atq.h) <-> the
// e2m kernel buffer (kernels/e2m.h), so an E2M-ATQ model can run on the kernel backend and be
// stored as that buffer in a packed model (experiments/packed_formats.cpp).
// Not here: the layout and the kernels themselves (kernels/, no libtorch); model execution.
#pragma once
#include "core/types.h"
#include "kernels/e2m.h"

namespace twla {

// Needs attr block_size a multiple of 128 or the whole row (params are repeated per 128-column
// kernel block) and groups in 1..4 (see kernels::E2mSource): E2M-ATQ's output and GPTQ-ternary's;
// or a g_idx map (GPTQ-ternary with act-order groups), converted by e2m_kernel_blocks. The
// buffer's weights (kernels::e2m_dequantize) equal dequantize(p) bit for bit. Layouts the kernel
// format cannot hold (see kernels/e2m.h) are user errors naming the layer's problem.
kernels::E2mBuffer e2m_to_kernel(const PackedWeight& p);
// p itself, or, where p has a g_idx map (attr g_idx = 1, groups = 1: GPTQ-ternary with act-order
// and dynamic groups, whose groups are not runs of columns), the same weights per 128-column
// kernel block: the (at most two) GPTQ groups a block's columns use become its two order-2
// "A" groups (groups = 4, the B groups empty; groups = 1 where every block uses one GPTQ group),
// block_size 128, no g_idx. dequantize() of the result equals dequantize(p) bit for bit. A block
// whose columns use three or more GPTQ groups cannot be expressed: an error naming the block and
// the fixes (gptq static_groups: true, or act_order: false, or the dequantized parts-e2m path).
PackedWeight e2m_kernel_blocks(const PackedWeight& p);
// Whether p suits the kernel format: its block size, or, with a g_idx map, at most two GPTQ
// groups per 128-column block (the layouts e2m_to_kernel can still reject are ones E2M-ATQ and
// GPTQ-ternary do not produce).
bool e2m_kernel_supports(const PackedWeight& p);
// The inverse of e2m_to_kernel: buffer -> "e2m" PackedWeight with attrs groups and block_size
// (the source's, which the buffer does not record). dequantize() of the result equals
// dequantize() of the PackedWeight the buffer was made from, bit for bit; its parts equal the
// source's except the non-salient groups' alpha1 (not stored; their t1 is 0), which come back 0.
// bits_per_weight: the buffer's (kernels::e2m_bits_per_weight). Errors: a malformed buffer, codes
// or params that `groups` does not fit, params that differ inside one block of block_size.
PackedWeight e2m_from_kernel(const uint8_t* buf, size_t n, int64_t groups, int64_t block_size);

}  // namespace twla
