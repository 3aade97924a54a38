// experiments/packed_io.h: packed weights + their per-layer records in one safetensors file, the
// format of calibration's per-block checkpoints and of the stage cache's "weights" entries.
// The metadata carries `key` (what the weights were made for) so a file made for another
// descriptor is never loaded as this one's. Not here: where the files live (calibration.cpp,
// pipeline_cache.cpp).
#pragma once
#include <map>
#include <string>
#include <vector>

#include "core/types.h"
#include "results/run_record.h"

namespace twla {

// Written atomically (write_safetensors).
void save_packed(const std::string& path, const std::string& key,
                 const std::map<std::string, PackedWeight>& packed,
                 const std::vector<LayerRecord>& records);
// False when the file is absent or was made for another key; Error when it is not ours. The parts
// are read-only views of the mapped file (SafetensorsFile::map_raw), not copies: a 7B model's
// packed weights stay in the page cache, reclaimable, instead of ~20 GiB of anonymous memory.
bool load_packed(const std::string& path, const std::string& key,
                 std::map<std::string, PackedWeight>* packed, std::vector<LayerRecord>* records);

}  // namespace twla
