// quantizers/e2m_convert.cpp: "e2m" PackedWeight <-> e2m kernel buffer; libtorch on this side only,
// kernels/e2m_pack.cpp does the packing and unpacking from raw pointers.
#include "quantizers/e2m_convert.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "core/error.h"
#include "core/tensor.h"

namespace twla {

namespace {
bool has_g_idx(const PackedWeight& p) {
  auto it = p.attrs.find("g_idx");
  return it != p.attrs.end() && it->second != 0;
}
// Per 128-column kernel block, the distinct groups (g_idx values) of its columns, ascending.
std::vector<std::vector<int64_t>> kernel_block_groups(const PackedWeight& p) {
  const int64_t ic = p.shape.at(1), K = kernels::kE2mBlock;
  TWLA_CHECK(p.parts.count("g_idx"), "e2m packed weight has attr g_idx = 1 but no part 'g_idx'; re-pack it");
  Tensor g = p.parts.at("g_idx").to(at::kLong).contiguous();
  check_shape(g, {ic}, "e2m g_idx");
  const int64_t* pg = g.data_ptr<int64_t>();
  std::vector<std::vector<int64_t>> out;
  for (int64_t st = 0; st < ic; st += K) {
    std::vector<int64_t> d(pg + st, pg + std::min(ic, st + K));
    std::sort(d.begin(), d.end());
    d.erase(std::unique(d.begin(), d.end()), d.end());
    out.push_back(std::move(d));
  }
  return out;
}
size_t most_groups(const std::vector<std::vector<int64_t>>& blocks) {
  size_t n = 0;
  for (const auto& d : blocks) n = std::max(n, d.size());
  return n;
}
}  // namespace

PackedWeight e2m_kernel_blocks(const PackedWeight& p) {
  if (!has_g_idx(p)) return p;
  TWLA_CHECK(p.format == "e2m" && p.shape.size() == 2, "e2m_kernel_blocks needs a 2-D \"e2m\" packed weight");
  const int64_t oc = p.shape[0], ic = p.shape[1], K = kernels::kE2mBlock;
  auto gr = p.attrs.find("groups");
  TWLA_CHECK(gr != p.attrs.end() && gr->second == 1, "e2m packed weight with a g_idx map has groups=",
             gr == p.attrs.end() ? -1 : gr->second, "; only GPTQ-ternary's one order-2 group per GPTQ group "
             "(groups=1) can be laid out for the e2m kernels");
  for (const char* k : {"group", "t0", "t1", "mu", "alpha0", "alpha1"})
    TWLA_CHECK(p.parts.count(k), "e2m packed weight lacks part '", k, "'");
  const auto blocks = kernel_block_groups(p);
  for (size_t b = 0; b < blocks.size(); ++b)
    TWLA_CHECK(blocks[b].size() <= 2, "e2m kernel block ", b, " (columns ", int64_t(b) * K, "..",
               std::min(ic, int64_t(b + 1) * K) - 1, ") holds columns of ", blocks[b].size(),
               " act-order GPTQ groups; the e2m layout has two order-2 groups per 128 columns. Quantize with "
               "gptq static_groups: true (or act_order: false), or run the layer dequantized (format parts-e2m)");
  const int64_t nb = int64_t(blocks.size()), G = most_groups(blocks) <= 1 ? 1 : 4;
  Tensor mu = p.parts.at("mu").to(at::kFloat), a0 = p.parts.at("alpha0").to(at::kFloat);
  Tensor a1 = p.parts.at("alpha1").to(at::kFloat);
  const int64_t src_groups = mu.size(1);
  check_shape(mu, {oc, src_groups, 1}, "e2m mu");
  check_shape(a0, {oc, src_groups, 1}, "e2m alpha0");
  check_shape(a1, {oc, src_groups, 1}, "e2m alpha1");
  // Slot j of kernel block b (an A group, owning whole columns) holds GPTQ group blocks[b][j].
  Tensor kmu = at::zeros({oc, nb, G}, at::kFloat), ka0 = at::zeros({oc, nb, G}, at::kFloat);
  Tensor ka1 = at::zeros({oc, nb, G}, at::kFloat);
  Tensor slot = at::zeros({ic}, at::kByte);
  Tensor gi = p.parts.at("g_idx").to(at::kLong);
  for (int64_t b = 0; b < nb; ++b) {
    const auto& d = blocks[size_t(b)];
    for (int64_t j = 0; j < int64_t(d.size()); ++j) {
      TWLA_CHECK(d[size_t(j)] >= 0 && d[size_t(j)] < src_groups, "e2m packed part g_idx names group ",
                 d[size_t(j)], " of ", src_groups, "; re-pack the model");
      kmu.select(1, b).select(1, j).copy_(mu.select(1, d[size_t(j)]).select(1, 0));
      ka0.select(1, b).select(1, j).copy_(a0.select(1, d[size_t(j)]).select(1, 0));
      ka1.select(1, b).select(1, j).copy_(a1.select(1, d[size_t(j)]).select(1, 0));
      const int64_t st = b * K, w = std::min(K, ic - st);
      Tensor cols = slot.narrow(0, st, w);
      cols.masked_fill_(gi.narrow(0, st, w).eq(d[size_t(j)]), uint8_t(j));
    }
  }
  PackedWeight k;
  k.format = "e2m";
  k.shape = p.shape;
  k.parts = {{"group", slot.unsqueeze(0).expand({oc, ic}).contiguous()},
             {"t0", p.parts.at("t0")}, {"t1", p.parts.at("t1")},
             {"mu", kmu}, {"alpha0", ka0}, {"alpha1", ka1}};
  k.attrs = {{"block_size", K}, {"groups", G}};
  k.bits_per_weight = p.bits_per_weight;
  return k;
}

bool e2m_kernel_supports(const PackedWeight& p) {
  if (p.format != "e2m" || p.shape.size() != 2) return false;
  if (has_g_idx(p)) {
    auto gr = p.attrs.find("groups");
    return gr != p.attrs.end() && gr->second == 1 && p.parts.count("g_idx") &&
           p.parts.at("g_idx").numel() == p.shape[1] && most_groups(kernel_block_groups(p)) <= 2;
  }
  auto bs = p.attrs.find("block_size");
  return bs != p.attrs.end() && bs->second > 0 && (bs->second % kernels::kE2mBlock == 0 || bs->second >= p.shape[1]);
}

kernels::E2mBuffer e2m_to_kernel(const PackedWeight& p) {
  TWLA_CHECK(p.format == "e2m", "the e2m kernel format needs an \"e2m\" packed weight, got format \"", p.format,
             "\"; quantize with e2m-atq");
  TWLA_CHECK(p.shape.size() == 2, "e2m packed weight needs a 2-D shape");
  if (has_g_idx(p)) return e2m_to_kernel(e2m_kernel_blocks(p));
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
