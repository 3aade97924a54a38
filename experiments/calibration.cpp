// experiments/calibration.cpp: see calibration.h.
#include "experiments/calibration.h"

#include <nlohmann/json.hpp>

#include <csignal>
#include <cstdlib>
#include <map>

#include "core/fs.h"
#include "core/progress.h"
#include "core/safetensors.h"
#include "eval/datasets.h"
#include "experiments/descriptor.h"
#include "quantizers/hessian.h"

namespace twla {

namespace {
// Records the inputs of the linears of one group while the block runs normally.
class RecordingOps : public LinearOps {
 public:
  RecordingOps(const Rotation& rot, const std::vector<std::string>& group, bool need_s, bool compat)
      : rot_(rot), compat_(compat) {
    for (const auto& n : group) {
      acc_[n];
      if (need_s) s_[n];
    }
  }
  Tensor linear(const std::string& name, const Tensor& x0, const Tensor& W) const override {
    Tensor x = rot_.input(name, x0);
    auto it = acc_.find(name);
    if (it != acc_.end()) {
      // One call per sequence, as the references' forward hooks see them.
      for (int64_t s = 0; s < x.size(0); ++s) {
        Tensor xs = x[s].contiguous();
        hessian_add_batch(it->second, xs, compat_);
        auto si = s_.find(name);
        if (si != s_.end()) s_blocks_add(si->second, xs);
      }
    }
    return at::matmul(x, W.t());
  }
  LayerStats stats(const std::string& name) const {
    LayerStats st;
    const auto& a = acc_.at(name);
    st.H = a.H;
    st.n_seq = a.n_seq;
    st.n_tokens = a.n_tokens;
    auto si = s_.find(name);
    if (si != s_.end()) st.S_blocks = s_blocks_finish(si->second);
    return st;
  }

 private:
  const Rotation& rot_;
  bool compat_;
  mutable std::map<std::string, HessianAccumulator> acc_;
  mutable std::map<std::string, SBlockAccumulator> s_;
};

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

void forward_all(const Model& m, const Block& blk, Tensor& h, const LinearOps& ops, int batch) {
  for (int64_t s = 0; s < h.size(0); s += batch) {
    int64_t e = std::min<int64_t>(h.size(0), s + batch);
    h.narrow(0, s, e - s).copy_(m.block_forward(blk, h.narrow(0, s, e - s), ops));
  }
}

std::string ckpt_path(const std::string& run_dir, int b) {
  return run_dir + "/ckpt/block_" + std::to_string(b) + ".safetensors";
}

nlohmann::json record_json(const LayerRecord& r) {
  return {{"name", r.name}, {"block", r.block}, {"weight_err", r.weight_err},
          {"output_err", r.output_err}, {"bits_per_weight", r.bits_per_weight},
          {"seconds", r.seconds}, {"extra", r.extra}};
}
LayerRecord record_from(const nlohmann::json& j) {
  LayerRecord r;
  r.name = j.at("name");
  r.block = j.at("block");
  r.weight_err = j.at("weight_err");
  r.output_err = j.at("output_err");
  r.bits_per_weight = j.at("bits_per_weight");
  r.seconds = j.at("seconds");
  r.extra = j.at("extra").get<std::map<std::string, double>>();
  return r;
}

void save_block(const std::string& path, const std::string& key,
                const std::map<std::string, PackedWeight>& packed,
                const std::vector<LayerRecord>& recs) {
  std::map<std::string, Tensor> tensors;
  nlohmann::json meta = {{"key", key}, {"layers", nlohmann::json::object()}};
  for (const auto& [name, p] : packed) {
    for (const auto& [part, t] : p.parts) tensors[name + "/" + part] = t;
    meta["layers"][name] = {{"format", p.format}, {"shape", p.shape}, {"attrs", p.attrs},
                            {"bits_per_weight", p.bits_per_weight}};
  }
  nlohmann::json rj = nlohmann::json::array();
  for (const auto& r : recs) rj.push_back(record_json(r));
  meta["records"] = rj;
  write_safetensors(path, tensors, {{"twla_checkpoint", meta.dump()}});
}

// Loads a block checkpoint made for `key`; false when absent or made for another descriptor.
bool load_block(const std::string& path, const std::string& key,
                std::map<std::string, PackedWeight>* packed, std::vector<LayerRecord>* recs) {
  if (!file_exists(path)) return false;
  SafetensorsFile f(path);
  auto it = f.metadata().find("twla_checkpoint");
  TWLA_CHECK(it != f.metadata().end(), "checkpoint '", path, "' has no twla metadata; delete it");
  auto meta = nlohmann::json::parse(it->second);
  if (meta.at("key") != key) return false;
  for (auto l = meta["layers"].begin(); l != meta["layers"].end(); ++l) {
    PackedWeight p;
    p.format = l.value().at("format");
    p.shape = l.value().at("shape").get<std::vector<int64_t>>();
    p.attrs = l.value().at("attrs").get<std::map<std::string, int64_t>>();
    p.bits_per_weight = l.value().at("bits_per_weight");
    for (const auto& n : f.names())
      if (n.rfind(l.key() + "/", 0) == 0) p.parts[n.substr(l.key().size() + 1)] = f.load_raw(n);
    (*packed)[l.key()] = p;
  }
  for (const auto& r : meta.at("records")) recs->push_back(record_from(r));
  return true;
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
    std::map<std::string, PackedWeight> packed;
    std::vector<LayerRecord> recs;
    if (load_block(ckpt_path(run_dir, b), key, &packed, &recs)) {
      for (auto& [name, p] : packed) model.set_weight(name, std::make_shared<PackedWeight>(p));
    } else {
      Block blk = model.load_block(b);
      for (const auto& group : block_linear_groups(b)) {
        RecordingOps rec(ctx.rot, group, need_s, compat);
        Tensor hc = h.clone();
        forward_all(model, blk, hc, rec, batch);
        for (const auto& name : group) {
          LayerStats st = rec.stats(name);
          QuantResult r = ctx.quant.quantize(LinearRef{name, b, blk.W.at(name)}, &st);
          blk.W[name] = r.dequant;
          recs.push_back(layer_record(name, b, r.report));
          packed[name] = r.packed;
          model.set_weight(name, std::make_shared<PackedWeight>(std::move(r.packed)));
        }
      }
      save_block(ckpt_path(run_dir, b), key, packed, recs);
      if (kill_after && std::atoi(kill_after) == b) std::raise(SIGKILL);  // resume tests
    }
    forward_all(model, model.load_block(b), h, plain, batch);
    out.insert(out.end(), recs.begin(), recs.end());
    prog.tick();
  }
  return out;
}

}  // namespace twla
