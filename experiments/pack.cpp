// experiments/pack.cpp: see pack.h.
#include "experiments/pack.h"

#include <filesystem>
#include <iostream>

#include "allocators/allocator.h"
#include "core/fs.h"
#include "core/paths.h"
#include "experiments/allocation_stage.h"
#include "experiments/pipeline_cache.h"
#include "quantizers/quantizer.h"

namespace twla {

PackSummary pack_model(const YAML::Node& tree, const PackOptions& o) {
  YAML::Node resolved;
  Descriptor d = parse_descriptor(tree, &resolved);
  TWLA_CHECK(!o.out.empty(), "pack: no output folder; give --out DIR");
  auto say = [&](const std::string& m) {
    if (!o.run.quiet) std::cerr << "[pack " << d.name << "] " << m << "\n";
  };
  const std::string model_dir = expand_path(d.model.path);
  TWLA_CHECK(dir_exists(model_dir), "model.path '", model_dir,
             "' is not a directory; give a Hugging Face folder with config.json and safetensors");
  TWLA_CHECK(!is_packed_model(model_dir), "model.path '", model_dir,
             "' is already a packed model; give the Hugging Face folder it was made from");
  if (d.threads > 0) set_threads(d.threads);
  Model model(model_dir);
  const std::string tok_path = d.model.tokenizer.empty() ? model_dir : expand_path(d.model.tokenizer);
  auto tok = load_tokenizer(tok_path);
  std::map<std::string, std::string> sha;
  for (const auto& f : model.source().files())
    sha["model/" + std::filesystem::path(f).filename().string()] = sha256_file(f);

  auto quant = quantizers().make(d.quantizer, "quantizer");
  auto rot = rotations().make(d.rotation, "rotation");
  auto alloc = allocators().make(d.activations.allocator, "activations.allocator");
  alloc->check(model.n_blocks(), d.activations.bits);
  const StageCache cache(default_cache_dir(d.output, o.run.cache_dir));
  WeightsContext wc{d, *tok, *quant, *rot, o.run.quiet};
  const YAML::Node wdeps = weights_deps(resolved, sha, quant->needs_calibration());
  bool hit = false, rot_hit = false;
  cached_rotate_and_quantize(model, wc, run_dir_of(d), cache, wdeps, rotation_deps(resolved, sha), &hit, &rot_hit);
  say(hit ? "weights: from the stage cache" : "weights: quantized");

  std::unique_ptr<Model> fp_model;
  AllocationContext actx = allocation_context(d, model, *tok, *rot, fp_model, model_dir, say);
  AllocationRequest req{model.n_blocks(), d.activations.bits, d.activations.clip, &actx};
  AllocationReport arep;
  PackInput in;
  in.allocation = alloc->allocate(req, &arep);
  fp_model.reset();
  for (const auto& n : arep.notes) say(n);
  in.model = &model;
  in.rotation = rot.get();
  in.default_clip = d.activations.clip;
  in.compat = d.compat;
  in.descriptor_yaml = yaml_text(resolved);
  in.run_id = run_id(resolved);
  in.source_model = model_dir;
  in.tokenizer = tok_path;
  PackSummary s = write_packed_model(expand_path(o.out), in);
  say("wrote " + s.dir);
  return s;
}

YAML::Node adopt_packed_model(const YAML::Node& tree, PackedModelInfo* info) {
  if (!tree.IsMap() || !tree["model"] || !tree["model"].IsMap() || !tree["model"]["path"] ||
      !tree["model"]["path"].IsScalar())
    return tree;
  const std::string dir = expand_path(tree["model"]["path"].as<std::string>());
  if (!is_packed_model(dir)) return tree;
  *info = read_packed_model(dir);
  YAML::Node packed;
  try {
    packed = YAML::Load(info->descriptor_yaml);
  } catch (const YAML::Exception& e) {
    TWLA_FAIL("packed model '", info->file, "': field twla_meta.descriptor is not valid YAML (", e.what(),
              "); re-pack the model with `twla pack`");
  }
  YAML::Node out = YAML::Clone(tree);
  for (const char* k : {"quantizer", "rotation", "calibration", "activations", "compat"}) {
    TWLA_CHECK(packed[k], "packed model '", info->file, "': field twla_meta.descriptor lacks '", k,
               "'; re-pack the model with `twla pack`");
    out[k] = YAML::Clone(packed[k]);
  }
  if (!out["backend"]) out["backend"] = "kernel";
  return out;
}

}  // namespace twla
