// tests/experiments/test_calibration_memory.cpp: what the calibration flow keeps resident. Finished
// blocks must live only as views of their checkpoint files (file-backed pages), never as
// in-memory copies: on a 7B model those copies were ~20 GiB (docs/PERFORMANCE.md "Peak RAM of the
// calibration flow"). Also the file views themselves: aligned, read back exactly, and alive after
// the file object is gone.
#include <filesystem>

#include "core/model.h"
#include "core/paths.h"
#include "core/safetensors.h"
#include "core/tokenizer.h"
#include "experiments/calibration.h"
#include "experiments/descriptor.h"
#include "experiments/weights.h"
#include "quantizers/quantizer.h"
#include "rotations/rotation.h"
#include "tests/catch.h"
#include "tests/support/util.h"

namespace fs = std::filesystem;
using twla::Tensor;

namespace {
using twla::test::temp_dir;
}  // namespace

TEST_CASE("safetensors: map_raw views are aligned, exact, and keep the file mapped", "[calibration][memory]") {
  auto d = temp_dir("calmem-view");
  const std::string f = (d / "t.safetensors").string();
  // Odd byte counts first by name: unaligned unless the writer orders the data section.
  Tensor a = at::arange(3, at::kByte), b = at::randn({5, 3}), c = at::arange(7, at::kLong);
  Tensor e = at::arange(-2, 3, at::kChar);
  twla::write_safetensors(f, {{"a", a}, {"b", b}, {"c", c}, {"e", e}});
  std::map<std::string, Tensor> views;
  {
    twla::SafetensorsFile sf(f);
    for (const auto& n : sf.names()) views[n] = sf.map_raw(n);
    CHECK_FALSE(twla::is_file_view(sf.load_raw("b")));
  }   // the file object is gone; the views must still read the mapping
  for (const auto& [n, t] : views) {
    INFO(n);
    CHECK(twla::is_file_view(t));
    CHECK(reinterpret_cast<uintptr_t>(t.data_ptr()) % t.element_size() == 0);
  }
  CHECK(at::equal(views["a"], a));
  CHECK(at::equal(views["b"], b));
  CHECK(at::equal(views["c"], c));
  CHECK(at::equal(views["e"], e));
  CHECK_FALSE(twla::is_file_view(b));
  fs::remove_all(d);
}

TEST_CASE("calibration: finished blocks stay only in their checkpoint files", "[calibration][memory]") {
  auto d = temp_dir("calmem-flow");
  const std::string stories = twla::data_dir() + "/models/stories260K";
  for (const char* rot : {"none", "hadamard"}) {
    {
      INFO("rotation " << rot);
      YAML::Node t;
      t["name"] = std::string("m-") + rot;
      t["model"]["path"] = stories;
      t["quantizer"] = YAML::Load("{name: gptq, bits: 3}");
      t["rotation"] = rot;
      t["calibration"] = YAML::Load("{nsamples: 4, seqlen: 64}");
      t["output"] = d.string();
      twla::Descriptor desc = twla::parse_descriptor(t);
      twla::Model model(stories);
      auto tok = twla::load_tokenizer(stories);
      auto quant = twla::quantizers().make(desc.quantizer, "quantizer");
      auto rotation = twla::rotations().make(desc.rotation, "rotation");
      twla::WeightsContext ctx{desc, *tok, *quant, *rotation, true};
      const std::string run_dir = (d / rot).string();
      auto recs = twla::quantize_weights(model, ctx, run_dir);
      REQUIRE(recs.size() == size_t(7 * model.n_blocks()));
      int64_t packed_bytes = 0;
      for (int b = 0; b < model.n_blocks(); ++b)
        for (const auto& name : twla::block_linear_names(b)) {
          auto p = model.override_of(name);
          REQUIRE(p != nullptr);
          CHECK(p->format == "uniform");
          for (const auto& [part, v] : p->parts) packed_bytes += int64_t(v.numel() * v.element_size());
        }
      CHECK(packed_bytes > 0);
      CHECK(twla::owned_packed_bytes(model) == 0);
      // The views read what the checkpoint holds, bit for bit.
      twla::SafetensorsFile f(run_dir + "/ckpt/block_2.safetensors");
      auto p = model.override_of("layers.2.mlp.down_proj");
      for (const auto& [part, v] : p->parts) CHECK(at::equal(v, f.load_raw("layers.2.mlp.down_proj/" + part)));
    }
  }
  fs::remove_all(d);
}
