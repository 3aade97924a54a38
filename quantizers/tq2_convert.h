// quantizers/tq2_convert.h: a "ternary" PackedWeight (core/types.h) <-> the tq2 byte buffer the
// CPU/CUDA kernels execute (kernels/tq2.h), so a quantized model can run on the kernel backend.
// Not here: the layout and the kernels themselves (kernels/, no libtorch); model execution.
#pragma once
#include <cstdint>
#include <vector>

#include "core/types.h"

namespace twla {

// format "ternary" -> tq2 bytes. Group size: the whole row, or a multiple of 128 dividing ic.
std::vector<uint8_t> ternary_to_tq2(const PackedWeight& p);
// tq2 bytes -> format "ternary" (codes int8, alpha/mu fp32, attr group_size, honest bits/weight
// of the tq2 storage). Malformed buffers are user errors.
PackedWeight tq2_to_ternary(const uint8_t* buf, size_t n);

}  // namespace twla
