// quantizers/e2m_convert.cpp: "e2m" PackedWeight -> e2m kernel buffer; libtorch on this side only,
// kernels/e2m_pack.cpp does the packing from raw pointers.
#include "quantizers/e2m_convert.h"

#include <algorithm>
#include <stdexcept>

#include "core/error.h"
#include "core/tensor.h"

namespace twla {

bool e2m_kernel_supports(const PackedWeight& p) {
  if (p.format != "e2m" || p.shape.size() != 2) return false;
  auto bs = p.attrs.find("block_size");
  return bs != p.attrs.end() && bs->second > 0 && (bs->second % kernels::kE2mBlock == 0 || bs->second >= p.shape[1]);
}

kernels::E2mBuffer e2m_to_kernel(const PackedWeight& p) {
  TWLA_CHECK(p.format == "e2m", "the e2m kernel format needs an \"e2m\" packed weight, got format \"", p.format,
             "\"; quantize with e2m-atq");
  TWLA_CHECK(p.shape.size() == 2, "e2m packed weight needs a 2-D shape");
  const int64_t oc = p.shape[0], ic = p.shape[1];
  auto bs = p.attrs.find("block_size"), gr = p.attrs.find("groups");
  const int64_t K = kernels::kE2mBlock;
  TWLA_CHECK(bs != p.attrs.end() && (bs->second % K == 0 || bs->second >= ic), "e2m packed weight has block_size=",
             bs == p.attrs.end() ? -1 : bs->second, "; the e2m kernels need blocks that are multiples of ", K,
             " columns or whole rows (e2m-atq blocksize: 128; GPTQ-ternary without act-order groups)");
  TWLA_CHECK(gr != p.attrs.end(), "e2m packed weight lacks attr groups");
  const int64_t G = gr->second, nb = (ic + K - 1) / K, src_bs = std::min(bs->second, ic);
  const int64_t src_nb = (ic + src_bs - 1) / src_bs;
  for (const char* k : {"group", "t0", "t1", "mu", "alpha0", "alpha1"})
    TWLA_CHECK(p.parts.count(k), "e2m packed weight lacks part '", k, "'");
  Tensor group = p.parts.at("group").to(at::kByte).contiguous();
  Tensor t0 = p.parts.at("t0").to(at::kChar).contiguous(), t1 = p.parts.at("t1").to(at::kChar).contiguous();
  Tensor mu = p.parts.at("mu").to(at::kFloat).contiguous();
  Tensor a0 = p.parts.at("alpha0").to(at::kFloat).contiguous(), a1 = p.parts.at("alpha1").to(at::kFloat).contiguous();
  check_shape(group, {oc, ic}, "e2m group");
  check_shape(t0, {oc, ic}, "e2m t0");
  check_shape(t1, {oc, ic}, "e2m t1");
  check_shape(mu, {oc, src_nb, G}, "e2m mu");
  check_shape(a0, {oc, src_nb, G}, "e2m alpha0");
  check_shape(a1, {oc, src_nb, G}, "e2m alpha1");
  if (src_nb != nb) {  // larger blocks: the same params repeated for each 128-column kernel block
    Tensor idx = at::arange(nb, at::kLong).mul(K).div(src_bs, "floor");
    mu = mu.index_select(1, idx).contiguous();
    a0 = a0.index_select(1, idx).contiguous();
    a1 = a1.index_select(1, idx).contiguous();
  }
  kernels::E2mSource s;
  s.oc = oc, s.ic = ic, s.groups = G;
  s.group = group.data_ptr<uint8_t>();
  s.t0 = t0.data_ptr<int8_t>(), s.t1 = t1.data_ptr<int8_t>();
  s.mu = mu.data_ptr<float>(), s.alpha0 = a0.data_ptr<float>(), s.alpha1 = a1.data_ptr<float>();
  try {
    return kernels::e2m_pack(s);
  } catch (const std::invalid_argument& e) {
    TWLA_FAIL(e.what());
  }
}

}  // namespace twla
