// quantizers/e2m_convert.cpp: "e2m" PackedWeight <-> e2m kernel buffer; libtorch on this side only,
// kernels/e2m_pack.cpp does the packing and unpacking from raw pointers.
#include "quantizers/e2m_convert.h"

#include <algorithm>
#include <cstring>
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

PackedWeight e2m_from_kernel(const uint8_t* buf, size_t n, int64_t G, int64_t bs) {
  kernels::E2mView v;
  try {
    v = kernels::e2m_view(buf, n);
  } catch (const std::invalid_argument& e) {
    TWLA_FAIL(e.what());
  }
  const int64_t oc = v.oc, ic = v.ic, nb = v.n_blocks, K = kernels::kE2mBlock;
  TWLA_CHECK(G >= 1 && G <= 4, "e2m buffer: attr groups=", G, " is not 1..4");
  TWLA_CHECK(bs > 0 && (bs % K == 0 || bs >= ic), "e2m buffer: attr block_size=", bs, " is neither a multiple of ",
             K, " nor the whole row (ic=", ic, ")");
  const int64_t src_bs = std::min(bs, ic), src_nb = (ic + src_bs - 1) / src_bs, per = (src_bs + K - 1) / K;
  Tensor group = at::empty({oc, ic}, at::kByte), t0 = at::empty({oc, ic}, at::kChar);
  Tensor t1 = at::empty({oc, ic}, at::kChar);
  Tensor mu = at::empty({oc, nb, G}, at::kFloat), a0 = at::empty({oc, nb, G}, at::kFloat);
  Tensor a1 = at::empty({oc, nb, G}, at::kFloat);
  try {
    kernels::e2m_unpack(v, G, group.data_ptr<uint8_t>(), t0.data_ptr<int8_t>(), t1.data_ptr<int8_t>(),
                        mu.data_ptr<float>(), a0.data_ptr<float>(), a1.data_ptr<float>());
  } catch (const std::invalid_argument& e) {
    TWLA_FAIL(e.what());
  }
  if (src_nb != nb) {  // e2m_to_kernel repeated each block's params over its 128-column kernel blocks
    for (const Tensor* t : {&mu, &a0, &a1}) {
      const float* d = t->data_ptr<float>();
      for (int64_t o = 0; o < oc; ++o)
        for (int64_t b = 0; b < nb; ++b) {
          const float* first = d + (o * nb + b / per * per) * G;
          TWLA_CHECK(std::memcmp(first, d + (o * nb + b) * G, size_t(G) * sizeof(float)) == 0, "e2m buffer: row ", o,
                     " has different params in columns ", b * K, " and ", b / per * per * K,
                     ", which block_size=", bs, " shares");
        }
    }
    Tensor idx = at::arange(src_nb, at::kLong).mul(per);
    mu = mu.index_select(1, idx).contiguous();
    a0 = a0.index_select(1, idx).contiguous();
    a1 = a1.index_select(1, idx).contiguous();
  }
  PackedWeight p;
  p.format = "e2m";
  p.shape = {oc, ic};
  p.parts = {{"group", group}, {"t0", t0}, {"t1", t1}, {"mu", mu}, {"alpha0", a0}, {"alpha1", a1}};
  p.attrs = {{"block_size", bs}, {"groups", G}};
  p.bits_per_weight = kernels::e2m_bits_per_weight(v);
  return p;
}

}  // namespace twla
