// experiments/calibration.cpp: see calibration.h.
#include "experiments/calibration.h"

#include <csignal>
#include <cstdlib>
#include <map>

#include "core/error.h"
#include "core/fs.h"
#include "core/progress.h"
#include "core/safetensors.h"
#include "eval/datasets.h"
#include "experiments/descriptor.h"
#include "experiments/packed_io.h"
#include "experiments/recording_ops.h"

namespace twla {

namespace {
// Plain forward with the rotation's online part (FP activations), for the next block's inputs.
class RotatedOps : public LinearOps {
 public:
  explicit RotatedOps(const Rotation& rot) : rot_(rot) {}
  Tensor linear(const std::string& name, const Tensor& x, const Tensor& W) const override {
    return at::matmul(rot_.input(name, x), W.t());
  }

 private:
  const Rotation& rot_;
};

// The block over all segments, batch by batch; the outputs replace h (in place) when `keep`,
// else they are dropped (a recording pass wants only the linears' inputs: no copy of h).
void forward_all(const Model& m, const Block& blk, Tensor& h, const LinearOps& ops, int batch,
                 bool keep) {
  for (int64_t s = 0; s < h.size(0); s += batch) {
    int64_t e = std::min<int64_t>(h.size(0), s + batch);
    Tensor y = m.block_forward(blk, h.narrow(0, s, e - s), ops);
    if (keep) h.narrow(0, s, e - s).copy_(y);
  }
}

std::string ckpt_path(const std::string& run_dir, int b) {
  return run_dir + "/ckpt/block_" + std::to_string(b) + ".safetensors";
}

// What the weights depend on: model, calibration, quantizer, rotation, compat.
std::string weights_key(const Descriptor& d) {
  YAML::Node n;
  n["model"] = to_yaml(d.model);
  n["calibration"] = to_yaml(d.calibration);
  n["quantizer"] = write_scalar(d.quantizer);
  n["rotation"] = write_scalar(d.rotation);
  n["compat"] = d.compat;
  std::string text = yaml_text(n);
  return sha256_bytes(text.data(), text.size());
}
}  // namespace

std::vector<LayerRecord> calibrate_and_quantize(Model& model, const WeightsContext& ctx,
                                                const std::string& run_dir) {
  const Descriptor& d = ctx.desc;
  const bool compat = d.compat == "reference";
  const bool need_s = d.quantizer.name == "e2m-atq";
  const std::string key = weights_key(d);
  make_dirs(run_dir + "/ckpt");
  auto ids = sample_calibration(ctx.tok, d.calibration.dataset, d.calibration.nsamples,
                                d.calibration.seqlen, uint64_t(d.calibration.seed));
  Tensor idt = at::empty({d.calibration.nsamples, d.calibration.seqlen}, at::kLong);
  for (size_t i = 0; i < ids.size(); ++i) idt.data_ptr<int64_t>()[i] = ids[i];
  Tensor h = model.embed(idt);  // [n, T, hidden]
  const int batch = std::max(1, d.eval.batch);
  const char* kill_after = std::getenv("TWLA_TEST_KILL_AFTER_BLOCK");
  RotatedOps plain(ctx.rot);
  std::vector<LayerRecord> out;
  Progress prog("calibrate+quantize", model.n_blocks(), "blocks");
  for (int b = 0; b < model.n_blocks(); ++b) {
    const std::string ckpt = ckpt_path(run_dir, b);
    std::map<std::string, PackedWeight> packed;
    std::vector<LayerRecord> recs;
    if (!load_packed(ckpt, key, &packed, &recs)) {
      Block blk = model.load_block(b);
      if (!ctx.rot.is_identity())   // prepared by quantize_weights; fused one block at a time
        for (auto& [name, W] : blk.W) W = ctx.rot.weight(name, W);
      for (const auto& group : block_linear_groups(b)) {
        RecordingOps rec(ctx.rot, group, need_s, compat);
        forward_all(model, blk, h, rec, batch, /*keep=*/false);
        for (const auto& name : group) {
          LayerStats st = rec.stats(name);
          QuantResult r = ctx.quant.quantize(LinearRef{name, b, blk.W.at(name)}, &st);
          blk.W[name] = r.dequant;
          recs.push_back(layer_record(name, b, r.report));
          packed[name] = std::move(r.packed);
        }
      }
      save_packed(ckpt, key, packed, recs);
      if (kill_after && std::atoi(kill_after) == b) std::raise(SIGKILL);  // resume tests
      // Drop this block's own copy; from here on the model holds views of the checkpoint file.
      packed.clear();
      std::vector<LayerRecord> same;
      TWLA_ASSERT(load_packed(ckpt, key, &packed, &same), "checkpoint ", ckpt, " unreadable right after writing");
    }
    for (auto& [name, p] : packed) model.set_weight(name, std::make_shared<PackedWeight>(std::move(p)));
    packed.clear();
    forward_all(model, model.load_block(b), h, plain, batch, /*keep=*/true);
    out.insert(out.end(), recs.begin(), recs.end());
    prog.tick();
  }
  return out;
}

int64_t owned_packed_bytes(const Model& model) {
  int64_t n = 0;
  for (int b = 0; b < model.n_blocks(); ++b)
    for (const auto& name : block_linear_names(b))
      if (auto p = model.override_of(name))
        for (const auto& [part, t] : p->parts)
          if (!is_file_view(t)) n += int64_t(t.numel() * t.element_size());
  return n;
}

}  // namespace twla
