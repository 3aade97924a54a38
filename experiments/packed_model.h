// experiments/packed_model.h: a quantized model packed on disk (docs/PACKED_FORMAT.md): one folder
// with config.json, the tokenizer files and one model.safetensors holding the non-quantized
// tensors under their Hugging Face names, every quantized linear in its packed format
// (packed_formats.h) under twla/<linear>/<array>, the rotation's learned state, and a metadata
// header (magic, version, resolved descriptor, activation allocation, format + shape per linear).
// Model(dir, packed_hf_names(info)) opens it; load_packed_weights() sets the linears; the kernel
// backend (kernel_ops.h) then runs them without re-quantizing.
// Not here: running the quantization that produces it (pack.h), the format rows (packed_formats.h).
#pragma once
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/model.h"
#include "core/types.h"
#include "rotations/rotation.h"

namespace twla {

inline constexpr const char* kPackedMagic = "twla-packed-model";
inline constexpr int kPackedVersion = 1;

// What a packed model is made of: a model with its quantized weights set (set_weight), the
// rotation (prepared) and the allocation that execute it.
struct PackInput {
  const Model* model = nullptr;
  const Rotation* rotation = nullptr;
  Allocation allocation;
  double default_clip = 0.9;
  std::string compat = "fixed";
  std::string descriptor_yaml;   // fully resolved
  std::string run_id;
  std::string source_model;      // the HF folder quantized
  std::string tokenizer;         // folder or file whose tokenizer files are copied
};

struct PackSummary {
  std::string dir;
  int64_t file_bytes = 0;        // model.safetensors of the pack
  int64_t fp16_bytes = 0;        // every tensor of the model at 2 bytes per value
  std::map<std::string, int> formats;   // packed format -> linears stored in it
  int fp_linears = 0;            // linears left as they were (no quantized weight set)
};

// Writes the folder atomically: built next to `dir`, then renamed over it.
PackSummary write_packed_model(const std::string& dir, const PackInput& in);

// A packed model's metadata, validated against its file and config.json.
struct PackedLinear {
  std::string format;
  std::vector<int64_t> shape;
  std::map<std::string, int64_t> attrs;
  std::map<std::string, std::string> arrays;  // array -> tensor name in the file
  double bits_per_weight = 0;
};
struct PackedModelInfo {
  std::string dir, file;          // the folder, its model.safetensors
  std::string descriptor_yaml, run_id, source_model;
  std::map<std::string, PackedLinear> linears;   // "layers.0.mlp.up_proj" -> entry
  Allocation allocation;
  double default_clip = 0.9;
  std::string compat = "fixed";
  std::string rotation;           // rotation plugin name (its params are in the descriptor)
  std::map<std::string, std::map<std::string, std::string>> rotation_state;  // linear -> part -> tensor
};

// True when `dir` holds a model.safetensors whose metadata has any twla_ key (a packed model,
// or a damaged one that read_packed_model() then explains).
bool is_packed_model(const std::string& dir);
// dir_or_file: the folder or its model.safetensors. Every error names the file, the field and a
// fix: not safetensors / truncated, wrong magic, wrong version, bad metadata, unknown format,
// a linear whose shape differs from config.json, a tensor the metadata names that is missing.
PackedModelInfo read_packed_model(const std::string& dir_or_file);
// HF weight names ("model.layers.0.mlp.up_proj.weight") the pack provides in packed form.
std::set<std::string> packed_hf_names(const PackedModelInfo& info);
// Sets every packed linear on `model` (opened as Model(info.dir, packed_hf_names(info))) and the
// rotation's learned state; returns the linears set.
int load_packed_weights(const PackedModelInfo& info, Model& model, Rotation& rotation);

}  // namespace twla
