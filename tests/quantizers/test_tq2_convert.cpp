// tests/quantizers/test_tq2_convert.cpp: "ternary" PackedWeight <-> tq2 bytes round trip, and the
// tq2 CPU kernel on a converted weight against x W_hat^T from dequantize().
#include <ATen/CPUGeneratorImpl.h>

#include <functional>
#include <string>

#include "core/error.h"
#include "kernels/tq2.h"
#include "quantizers/ternary.h"
#include "quantizers/tq2_convert.h"
#include "tests/catch.h"

using namespace twla;

TEST_CASE("ternary PackedWeight -> tq2 -> ternary is exact, and the kernel runs the same W") {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(11);
  for (int64_t gs : {int64_t(-1), int64_t(128)}) {
    CAPTURE(gs);
    const int64_t oc = 37, ic = gs < 0 ? 300 : 384;
    Tensor W = at::randn({oc, ic}, gen, at::kFloat);
    PackedWeight p = pack_ternary(ternary_threshold(W, gs));
    std::vector<uint8_t> buf = ternary_to_tq2(p);
    PackedWeight back = tq2_to_ternary(buf.data(), buf.size());
    CHECK(back.format == "ternary");
    CHECK(back.attrs.at("group_size") == gs);
    CHECK(at::equal(dequantize(back), dequantize(p)));
    CHECK(back.bits_per_weight == Approx(kernels::tq2_bits_per_weight(oc, ic, gs)));

    Tensor x = at::randn({3, ic}, gen, at::kFloat);
    Tensor y_ref = at::matmul(x.to(at::kDouble), dequantize(p).to(at::kDouble).t()).to(at::kFloat);
    Tensor y = at::empty({3, oc}, at::kFloat);
    kernels::tq2_gemm_f32(kernels::tq2_view(buf.data(), buf.size(), oc, ic), x.data_ptr<float>(), 3,
                          y.data_ptr<float>(), {2});
    CHECK(max_abs_diff(y, y_ref) <= 1e-5f * max_abs(y_ref) + 1e-6f);
  }
}

namespace {
std::string user_error(const std::function<void()>& f) {  // the twla::Error message, or "no error"
  try {
    f();
  } catch (const twla::Error& e) {
    return e.what();
  }
  return "no error";
}
}  // namespace

TEST_CASE("tq2 conversion errors are user errors with a message") {
  PackedWeight dense;
  CHECK(user_error([&] { ternary_to_tq2(dense); }).find("format \"dense\"") != std::string::npos);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(12);
  PackedWeight p = pack_ternary(ternary_threshold(at::randn({4, 256}, gen, at::kFloat), 64));
  CHECK(user_error([&] { ternary_to_tq2(p); }).find("group_size=64") != std::string::npos);
  std::vector<uint8_t> junk(100, 0);
  CHECK(user_error([&] { tq2_to_ternary(junk.data(), junk.size()); }).find("bad magic") != std::string::npos);
}
