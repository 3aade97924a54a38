// experiments/cache_admin.h: the stage cache seen from outside a run (`twla cache list|prune`):
// which entries a cache folder holds, how big and how old, what each was made from, and removing
// them by stage and age. A study's cache grows by a 7B model's packed weights per quantization,
// so it needs pruning. Not here: the cache itself (stage_cache.h), what stages store
// (pipeline_cache.h, rotation_cache.h, allocation_cache.h).
#pragma once
#include <cstdint>
#include <ctime>
#include <string>
#include <vector>

namespace twla {

struct CacheEntryInfo {
  std::string stage, key, dir;
  int64_t bytes = 0;
  std::time_t written = 0;   // the MANIFEST's time: when the entry was published
  std::string summary;       // "model=stories260K quantizer=e2m-atq ..." from its deps.yaml
};

// Every published entry below `root` (<root>/<stage>/<64 hex>/ with a MANIFEST; unfinished temp
// folders are skipped), by stage, then oldest first. Error naming the folder if it is not one.
std::vector<CacheEntryInfo> list_cache(const std::string& root);

// Removes the entries of `stage` ("" = every stage) written more than `older_than_days` ago (< 0:
// any age) and returns them; with dry_run removes nothing. Removal is the cache's own (renamed
// aside, then deleted), so a run reading the cache never sees half an entry.
std::vector<CacheEntryInfo> prune_cache(const std::string& root, const std::string& stage, double older_than_days,
                                        bool dry_run);

}  // namespace twla
