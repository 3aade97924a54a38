// quantizers/e2m_convert.h: an "e2m" PackedWeight (E2M-ATQ's output, quantizers/e2m_atq.h) -> the
// e2m kernel buffer (kernels/e2m.h), so an E2M-ATQ model can run on the kernel backend.
// Not here: the layout and the kernels themselves (kernels/, no libtorch); model execution.
#pragma once
#include "core/types.h"
#include "kernels/e2m.h"

namespace twla {

// Needs attr block_size a multiple of 128 or the whole row (params are repeated per 128-column
// kernel block) and groups in 1..4 (see kernels::E2mSource): E2M-ATQ's output and GPTQ-ternary's. The
// buffer's weights (kernels::e2m_dequantize) equal dequantize(p) bit for bit. Layouts the kernel
// format cannot hold (see kernels/e2m.h) are user errors naming the layer's problem.
kernels::E2mBuffer e2m_to_kernel(const PackedWeight& p);
// Whether p's block size suits the kernel format (the layouts e2m_to_kernel can still reject are
// ones E2M-ATQ and GPTQ-ternary do not produce).
bool e2m_kernel_supports(const PackedWeight& p);

}  // namespace twla
