// kernels/kernels.h: the ternary kernel backend (issue 8): packed formats, CPU and CUDA GEMV/GEMM.
// No libtorch and nothing else of twla's here, so the kernels build standalone.
#pragma once
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

namespace twla::kernels {

// The checks every packed format's header shares (null, 4-byte alignment, room for the header,
// magic, version), then the header copied out; errors are std::invalid_argument("<fmt>: ...").
// Each format's view checks its own fields after.
template <class Header>
Header read_packed_header(const uint8_t* buf, size_t n, uint32_t magic, uint32_t version, const std::string& fmt) {
  auto bad = [&](const std::string& m) { throw std::invalid_argument(fmt + ": " + m); };
  if (!buf) bad("null buffer");
  if (reinterpret_cast<uintptr_t>(buf) % 4) bad("buffer must be 4-byte aligned");
  if (n < sizeof(Header))
    bad("buffer of " + std::to_string(n) + " bytes is shorter than the " + std::to_string(sizeof(Header)) +
        "-byte header");
  Header h;
  std::memcpy(&h, buf, sizeof h);
  if (h.magic != magic) bad("bad magic (not a " + fmt + " buffer)");
  if (h.version != version)
    bad("version " + std::to_string(h.version) + " is not supported (this build reads " + std::to_string(version) +
        "); repack the weights");
  return h;
}

bool cpu_has_avx2();      // AVX2 and FMA
bool cpu_has_avx_vnni();  // VEX vpdpbusd (Alder Lake, Sapphire Rapids and later)
// AVX512F + AVX512BW + AVX512-VNNI (Ice Lake, Sapphire Rapids, Zen 4 and later) and the OS saving
// zmm state (XCR0 opmask / ZMM_Hi256 / Hi16_ZMM bits).
bool cpu_has_avx512_vnni();

}  // namespace twla::kernels
