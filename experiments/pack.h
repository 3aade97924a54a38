// experiments/pack.h: `twla pack`: a descriptor's weights stage (through the stage cache, so a
// run's quantization is reused) and allocation stage, then the packed model written to a folder
// (packed_model.h). The quantization steps are the same calls run_experiment makes, so the
// packed model runs exactly as `twla run ... backend=kernel` would.
// Not here: the file layout (packed_model.h), evaluation (pipeline.h).
#pragma once
#include <string>

#include "experiments/packed_model.h"
#include "experiments/pipeline.h"

namespace twla {

struct PackOptions {
  std::string out;         // the packed model folder
  RunOptions run;          // cache_dir, quiet (force: ignored)
};

// tree: a descriptor tree after includes/overrides (no sweep).
PackSummary pack_model(const YAML::Node& tree, const PackOptions& o);

// When the tree's model.path is a packed model: *info is read (read_packed_model) and the tree
// comes back with the pack's quantizer, rotation, calibration, activations and compat (what
// made it; the run id then names them) and `backend: kernel` unless the tree sets a backend.
// Otherwise the tree comes back unchanged and info->file stays empty.
YAML::Node adopt_packed_model(const YAML::Node& tree, PackedModelInfo* info);

}  // namespace twla
