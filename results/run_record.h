// results/run_record.h: what one twla run leaves behind, as plain std types: provenance
// (resolved descriptor, git, input hashes), table labels, metrics, timings, per-layer stats, series.
// Not here: the HDF5 layout (run_file.cpp documents the schema), tables (report.h), plots (plot.h).
// Others code against these names; add fields, never rename them (the HDF5 schema follows them).
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace twla {

struct LayerRecord {
  std::string name;                      // "model.layers.3.self_attn.q_proj"
  int block = 0;                         // decoder block index
  double weight_err = 0;                 // relative weight error of the quantized layer
  double output_err = -1;                // relative output error; -1 = not measured
  double bits_per_weight = 32;           // storage bits incl. scales
  double seconds = 0;                    // time spent quantizing this layer
  std::map<std::string, double> extra;   // method-specific stats ("relocations", "damp")
};

struct RunRecord {
  std::string run_id, name;                                      // content-hash id, human name
  std::string descriptor_yaml;                                   // the fully resolved descriptor
  std::vector<std::pair<std::string, std::string>> config_flat;  // "quantizer.bits" -> "4"
  std::string git;                                               // commit (+ "-dirty")
  std::map<std::string, std::string> input_sha256;               // "model/model.safetensors" -> hex
  std::map<std::string, std::string> labels;     // method, wbits, abits, rotation, allocator, model
  std::map<std::string, double> metrics;         // "ppl/wikitext2", "kl/wikitext2", "acc/piqa" ...
  std::map<std::string, double> timings;         // seconds per stage: "load", "quantize", "total"
  std::vector<LayerRecord> layers;               // per-layer stats, in quantization order
  std::map<std::string, std::vector<double>> series;  // named 1-D arrays ("act_bits" per block)
  std::string status = "done";
};

}  // namespace twla
