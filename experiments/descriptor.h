// experiments/descriptor.h: the experiment descriptor — one YAML file composes model, calibration,
// weight quantizer, rotation, activation bits + allocator, evaluation and output. Each field is
// declared once (visit) and that declaration serves parsing, `twla describe`, the resolved dump and
// the HDF5 attributes. Not here: running it (pipeline.h), sweeps over it (sweep.h).
#pragma once
#include <string>
#include <vector>

#include "core/fields.h"

namespace twla {

struct ModelSpec {
  std::string path;
  std::string tokenizer;  // "" = the model folder
  template <class V> void visit(V& v) {
    v("path", path, "Hugging Face folder (config.json + safetensors); ${data}/ = the data dir");
    v("tokenizer", tokenizer, "tokenizer folder or file; empty = the model folder");
  }
};

struct CalibrationSpec {
  std::string dataset = "c4";
  int nsamples = 128;
  int seqlen = 2048;
  int seed = 0;
  template <class V> void visit(V& v) {
    v("dataset", dataset, "c4 (held-out documents), wikitext2, tinystories or text:PATH");
    v("nsamples", nsamples, "calibration segments");
    v("seqlen", seqlen, "tokens per segment");
    v("seed", seed, "sampling seed");
  }
};

struct ActivationSpec {
  double bits = 16;
  double clip = 0.9;
  PluginSpec allocator{"uniform", YAML::Node(YAML::NodeType::Map)};
  template <class V> void visit(V& v) {
    v("bits", bits, "activation bits: 16 = off; the average b_avg for mixed allocators");
    v("clip", clip, "clipping ratio c of per-token min/max (ALGORITHMS.md 3)");
    v("allocator", allocator, "bit allocator plugin: uniform, ila-amp");
  }
};

struct EvalSpec {
  std::vector<std::string> tasks{"wikitext2"};
  int seqlen = 2048;
  int batch = 4;
  bool kl = true;
  int max_windows = -1;
  int limit = -1;
  int subsample = -1;
  int subsample_seed = 0;
  int zeroshot_batch = 16;
  int lmeval_max_length = -1;
  std::string bos = "tokenizer";
  std::string dump_requests;
  template <class V> void visit(V& v) {
    v("tasks", tasks,
      "perplexity: wikitext2, c4, tinystories, text:PATH; zero-shot (lm-eval semantics): piqa, "
      "arc_easy, arc_challenge, hellaswag, winogrande, lambada_openai, lambada_standard, boolq, "
      "openbookqa; wikitext2-lmeval (lm-eval's word/byte perplexity, rolling windows)");
    v("seqlen", seqlen, "perplexity window length");
    v("batch", batch, "windows per forward batch");
    v("kl", kl, "also KL(FP||Q) and top-1 agreement vs the FP model (quantized runs)");
    v("max_windows", max_windows, "evaluate at most this many windows per dataset; -1 = all");
    v("limit", limit, "zero-shot: first N documents per task (lm-eval --limit); -1 = all");
    v("subsample", subsample,
      "zero-shot: then N documents drawn at random (seeded, file order kept); -1 = all");
    v("subsample_seed", subsample_seed, "zero-shot: seed of `subsample`");
    v("zeroshot_batch", zeroshot_batch, "zero-shot: requests per forward");
    v("lmeval_max_length", lmeval_max_length,
      "wikitext2-lmeval window; -1 = the model's max_position_embeddings, as lm-eval");
    v("bos", bos, "zero-shot BOS: tokenizer (lm-eval >= PR 3347) or never (older lm-eval tables)");
    v("dump_requests", dump_requests, "zero-shot: JSONL of every request ({task} = task name)");
  }
};

struct Descriptor {
  std::string name = "run";
  std::string description;
  ModelSpec model;
  CalibrationSpec calibration;
  PluginSpec quantizer{"fp", YAML::Node(YAML::NodeType::Map)};
  PluginSpec rotation{"none", YAML::Node(YAML::NodeType::Map)};
  ActivationSpec activations;
  EvalSpec eval;
  std::string compat = "fixed";
  std::string backend = "fake";
  std::string output = "runs";
  int threads = 0;
  template <class V> void visit(V& v) {
    v("name", name, "run name (the run folder under output)");
    v("description", description, "free text kept with the results");
    v("model", model, "model");
    v("calibration", calibration, "calibration data");
    v("quantizer", quantizer, "weight quantizer plugin");
    v("rotation", rotation, "rotation plugin");
    v("activations", activations, "activation quantization");
    v("eval", eval, "evaluation");
    v("compat", compat, "fixed (correct) or reference (reproduce the reference's defects)");
    v("backend", backend,
      "fake (dequantized fp32 weights) or kernel (packed ternary weights on the tq2 kernels, E2M-ATQ / "
      "GPTQ-ternary ones on the e2m kernels; formats without a kernel run dequantized, as the run log says), "
      "or kernel-cuda (the same packed weights on the CUDA kernels of the current GPU)");
    v("output", output, "folder that receives <name>/results.h5");
    v("threads", threads, "intra-op threads; 0 = all cores");
  }
};

// Reads a descriptor file with its include: chain (paths relative to the including file), then
// applies `key.sub=value` overrides (values are YAML: 4, [2,4], {name: rtn}). The `sweep:` and
// `slurm:` blocks, if any, are returned separately in *sweep and *slurm and removed from the tree
// (neither changes what a run computes; runner_slurm.h reads `slurm:`).
YAML::Node load_descriptor_tree(const std::string& path, const std::vector<std::string>& overrides,
                                YAML::Node* sweep = nullptr, YAML::Node* slurm = nullptr);
// Sets a dotted key in a YAML tree ("quantizer.bits", "eval.tasks").
void set_dotted(YAML::Node& root, const std::string& key, const YAML::Node& value);
void apply_override(YAML::Node& root, const std::string& assignment);  // "a.b=value"

// Parses a tree into a Descriptor, instantiates its plugins (checking their fields) and returns
// the fully resolved tree (every field, plugin params with defaults filled).
Descriptor parse_descriptor(const YAML::Node& tree, YAML::Node* resolved = nullptr);

// Content id of a resolved descriptor: first 12 hex digits of sha256 of its YAML text.
std::string run_id(const YAML::Node& resolved);

}  // namespace twla
