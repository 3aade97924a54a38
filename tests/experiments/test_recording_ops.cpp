// tests/experiments/test_recording_ops.cpp: the calibration flow's recording pass shares one H (and
// one set of S blocks) between linears fed the same input (q/k/v, gate/up), and only between
// those: the shared statistics must be bit-identical to accumulating every linear on its own, and
// a rotation that transforms each linear's input differently (as KOTMS does) must share nothing.
#include <ATen/CPUGeneratorImpl.h>

#include "core/model.h"
#include "core/model_config.h"
#include "core/paths.h"
#include "experiments/recording_ops.h"
#include "rotations/rotation.h"
#include "tests/catch.h"

using namespace twla;

namespace {
// x -> x * (1 + 0.01 * (number of characters of the linear's name)): a different input per linear
// of a group (q_proj, k_proj, v_proj have the same length, so use the first letter too).
class PerLinearScale : public Rotation {
 public:
  std::string name() const override { return "per-linear-scale"; }
  YAML::Node params() const override { return YAML::Node(); }
  bool is_identity() const override { return false; }
  Tensor weight(const std::string&, const Tensor& W) const override { return W; }
  Tensor input(const std::string& linear, const Tensor& x) const override {
    const char c = linear[linear.rfind('.') + 1];
    return x * (1.0 + 0.01 * double(c - 'a'));
  }
};
}  // namespace

TEST_CASE("recording: linears fed the same input share one accumulation, bit for bit", "[calibration]") {
  const std::string stories = data_dir() + "/models/stories260K";
  Model model(stories);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(3);
  // Two forward batches, as forward_all runs them.
  std::vector<Tensor> hs;
  for (int k = 0; k < 2; ++k)
    hs.push_back(model.embed(at::randint(0, model.config().vocab_size, {3, 24}, gen, at::kLong)));
  const int b = 1;
  Block blk = model.load_block(b);
  auto none = rotations().make(PluginSpec{"none"}, "rotation");
  auto hadamard = rotations().make(PluginSpec{"hadamard"}, "rotation");
  PerLinearScale per_linear;
  struct Case {
    const char* what;
    const Rotation* rot;
    std::vector<int> shared;   // per group {q,k,v}, {o}, {gate,up}, {down}
  };
  for (const Case& c : {Case{"none", none.get(), {2, 0, 1, 0}}, Case{"hadamard", hadamard.get(), {2, 0, 1, 0}},
                        Case{"per-linear", &per_linear, {0, 0, 0, 0}}}) {
    const auto groups = block_linear_groups(b);
    for (size_t g = 0; g < groups.size(); ++g) {
      INFO("rotation " << c.what << ", group " << g);
      RecordingOps shared(*c.rot, groups[g], /*need_s=*/true, /*compat=*/false);
      RecordingOps alone(*c.rot, groups[g], /*need_s=*/true, /*compat=*/false, /*share=*/false);
      for (const Tensor& h : hs) {
        model.block_forward(blk, h, shared);
        model.block_forward(blk, h, alone);
      }
      CHECK(shared.shared() == c.shared[g]);
      CHECK(alone.shared() == 0);
      for (const auto& name : groups[g]) {
        INFO(name);
        LayerStats a = shared.stats(name), e = alone.stats(name);
        CHECK(at::equal(a.H, e.H));
        CHECK(a.n_seq == e.n_seq);
        CHECK(a.n_tokens == e.n_tokens);
        REQUIRE(a.S_blocks.size() == e.S_blocks.size());
        for (size_t k = 0; k < a.S_blocks.size(); ++k) CHECK(at::equal(a.S_blocks[k], e.S_blocks[k]));
        // A sharing linear gets tensors of its own: a quantizer may modify them.
        if (shared.owner(name) != name) CHECK(a.H.data_ptr() != shared.stats(shared.owner(name)).H.data_ptr());
      }
    }
  }
}
