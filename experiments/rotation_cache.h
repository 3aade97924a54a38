// experiments/rotation_cache.h: the rotation on its own, for work that needs only the rotated
// full-precision model (ILA-AMP's shard tasks, `twla allocate --shard`): every linear prepared
// exactly as the weights stage prepares it (model order, the weights as loaded), with no weight
// quantizer. A rotation with learned state (KOTMS: C and B per linear; Rotation::state) keeps it
// in the stage cache as a "rotation" entry keyed by rotation_deps (pipeline_cache.h: model, its
// file hashes, rotation, compat); none and hadamard have no state and are simply prepared.
// The weights stage publishes the same entry (publish_rotation) and reads it too
// (load_cached_rotation): set_state() restores C and B bit for bit and, for KOTMS, the training's
// stats and loss curve that the run record shows (rotation_stats.h), so a run whose weights or
// rotation are cached trains nothing.
#pragma once
#include <yaml-cpp/yaml.h>

#include "core/model.h"
#include "experiments/stage_cache.h"
#include "rotations/rotation.h"

namespace twla {

// Prepares `rot` for every linear of `model` (which must carry no weight overrides): from the
// cache entry when there is one (set_state), else prepare() per linear, then publish_rotation.
// True when the state came from the cache. Error naming the entry when it lacks a linear.
bool cached_prepare_rotation(const Model& model, Rotation& rot, const StageCache& cache,
                             const YAML::Node& deps);

// Restores `rot` for every linear from the cache entry under `deps`; false (nothing set) when
// there is none or the rotation has no state to restore (identity, hadamard: prepare is cheap).
// Error naming the entry when it lacks a linear.
bool load_cached_rotation(const Model& model, Rotation& rot, const StageCache& cache, const YAML::Node& deps);

// Stores the prepared rotation's state under `deps` (nothing for an identity or stateless
// rotation, a disabled cache, or an entry that exists already).
void publish_rotation(const Model& model, const Rotation& rot, const StageCache& cache,
                      const YAML::Node& deps);

}  // namespace twla
