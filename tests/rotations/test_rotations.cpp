// tests/rotations/test_rotations.cpp: conformance of every row of rotations(): y = x W^T is kept by
// weight() + input() on a random linear and on whole models (stories260K, synthetic llama3-tiny and
// qwen3-tiny: logits within 1e-3 in fp32), params round-trip, and config errors.
#include <ATen/CPUGeneratorImpl.h>

#include <memory>

#include "core/model.h"
#include "core/model_config.h"
#include "core/paths.h"
#include "rotations/rotation.h"
#include "tests/catch.h"

using namespace twla;

namespace {
Tensor randn(at::IntArrayRef shape, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return at::randn(shape, gen, at::TensorOptions().dtype(at::kFloat));
}
// KOTMS trains per linear; a few steps keep the test fast and still make C, B non-trivial.
std::unique_ptr<Rotation> make_rotation(const std::string& name) {
  YAML::Node params(YAML::NodeType::Map);
  if (name == "kotms") params["steps"] = 5;
  return rotations().at(name).make(params, "rotation");
}
// Runs a linear the way the quantized model does: online rotation, then x W^T.
class RotatedOps : public LinearOps {
 public:
  explicit RotatedOps(const Rotation& r) : rot_(r) {}
  Tensor linear(const std::string& name, const Tensor& x, const Tensor& W) const override {
    return at::matmul(rot_.input(name, x), W.t());
  }

 private:
  const Rotation& rot_;
};
std::shared_ptr<PackedWeight> dense(const Tensor& W) {
  auto p = std::make_shared<PackedWeight>();
  p->format = "dense";
  p->shape = W.sizes().vec();
  p->parts["W"] = W;
  return p;
}
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "<no error>";
}
}  // namespace

TEST_CASE("every rotation keeps x W^T on a linear") {
  auto name = GENERATE(from_range(rotations().names()));
  CAPTURE(name);
  auto rot = make_rotation(name);
  CHECK(rot->name() == name);
  CHECK(rot->is_identity() == (name == "none"));
  // Params round-trip through the registry.
  auto again = rotations().at(name).make(rot->params(), "rotation");
  CHECK(yaml_inline(again->params()) == yaml_inline(rot->params()));
  for (auto shape : {std::vector<int64_t>{48, 256}, std::vector<int64_t>{24, 172},
                     std::vector<int64_t>{40, 160}, std::vector<int64_t>{20, 188}}) {
    CAPTURE(shape[0], shape[1]);
    const std::string lin = "layers.0.mlp.down_proj." + std::to_string(shape[1]);
    Tensor W = randn(shape, 1);
    Tensor x = randn({2, 5, shape[1]}, 2);
    rot->prepare(LinearRef{lin, 0, W});
    Tensor Wr = rot->weight(lin, W), xr = rot->input(lin, x);
    CHECK(Wr.sizes() == W.sizes());
    CHECK(xr.sizes() == x.sizes());
    CHECK(Wr.scalar_type() == at::kFloat);
    Tensor y = at::matmul(x, W.t()), yr = at::matmul(xr, Wr.t());
    CHECK(max_abs_diff(y, yr) < 1e-5f * max_abs(y));
    // Norm-preserving (orthogonal) on both sides.
    CHECK(std::abs(x.norm().item<float>() - xr.norm().item<float>()) < 1e-5f * x.norm().item<float>());
    if (name == "kotms") {
      auto st = rot->stats(lin);
      CHECK(st.at("l") * st.at("r") == double(shape[1]));
      CHECK(st.at("loss_after") < st.at("loss_before"));
      CHECK(rot->loss_curve(lin).size() == 6);
    }
    if (name == "hadamard") CHECK(rot->stats(lin).at("fallback") == (shape[1] == 188 ? 1.0 : 0.0));
  }
}

TEST_CASE("every rotation leaves a model's logits unchanged") {
  auto name = GENERATE(from_range(rotations().names()));
  auto model_dir = GENERATE(std::string("models/stories260K"), std::string("models/synthetic/llama3-tiny"),
                            std::string("models/synthetic/qwen3-tiny"));
  CAPTURE(name, model_dir);
  Model m(data_dir() + "/" + model_dir);
  const int64_t vocab = m.config().vocab_size;
  Tensor ids = (at::arange(0, 24, at::kLong) * 37 + 5).remainder(vocab).view({2, 12});
  Tensor base = m.forward(ids);
  auto rot = make_rotation(name);
  for (int b = 0; b < m.n_blocks(); ++b) {
    Block blk = m.load_block(b);
    for (const auto& lin : block_linear_names(b)) {
      Tensor W = blk.W.at(lin);
      rot->prepare(LinearRef{lin, b, W});
      m.set_weight(lin, dense(rot->weight(lin, W)));
    }
  }
  RotatedOps ops(*rot);
  Tensor logits = m.forward(ids, &ops);
  float e = max_abs_diff(logits, base);
  CAPTURE(e, max_abs(base));
  CHECK(e < 1e-3f);
  if (name != "none") CHECK(max_abs_diff(m.forward(ids), base) > 1e-3f);  // the rotation did something
  m.clear_weights();
}

TEST_CASE("rotation config errors name the field") {
  YAML::Node bad(YAML::NodeType::Map);
  bad["stepz"] = 5;
  std::string msg = error_of([&] { rotations().at("kotms").make(bad, "rotation"); });
  CHECK(msg.find("steps") != std::string::npos);
  CHECK(error_of([] { rotations().at("hadamrd"); }).find("hadamard") != std::string::npos);
  YAML::Node dt(YAML::NodeType::Map);
  dt["dtype"] = "float16";
  dt["steps"] = 1;
  auto r = rotations().at("kotms").make(dt, "rotation");
  std::string m2 = error_of([&] { r->prepare(LinearRef{"layers.0.mlp.up_proj", 0, randn({8, 64}, 1)}); });
  CHECK(m2.find("float32") != std::string::npos);
}
