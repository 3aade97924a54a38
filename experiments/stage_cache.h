// experiments/stage_cache.h: a content-addressed cache of stage outputs (DESIGN_SKETCH.md "One
// run"): an entry is a folder <root>/<stage>/<key>/ keyed by the sha256 of exactly the descriptor
// fields and input-file hashes the stage depends on, so runs that differ only downstream (e.g.
// activation bits) reuse the quantized weights. Entries are written in a temp folder, hashed into
// a MANIFEST, then renamed into place (readers see a whole entry or none); every lookup re-hashes
// the files against the MANIFEST and removes an entry that does not match, so a corrupt entry is
// recomputed, never trusted. Not here: what each stage stores (pipeline_cache.h).
#pragma once
#include <functional>
#include <string>

#include <yaml-cpp/yaml.h>

namespace twla {

class StageCache {
 public:
  // root "" = disabled: every lookup misses and publish only runs nothing.
  explicit StageCache(std::string root = "") : root_(std::move(root)) {}
  bool enabled() const { return !root_.empty(); }
  const std::string& root() const { return root_; }

  // sha256 (hex) of the YAML text of `deps`: the fields and input hashes a stage depends on.
  static std::string key(const YAML::Node& deps);

  // The entry's folder when it exists and every file matches its MANIFEST; "" otherwise. A
  // damaged entry is removed (with a warning line on stderr) so the caller recomputes it.
  std::string lookup(const std::string& stage, const std::string& key) const;

  // Creates an entry: fill(dir) writes the payload files into a fresh temp folder, then the
  // MANIFEST (sha256 of each file) and deps.yaml are written and the folder renamed into place.
  // When a whole entry exists already (or another process publishes the same key first), that
  // entry is kept and fill is not called (or its output dropped). Returns the entry
  // folder ("" when disabled).
  std::string publish(const std::string& stage, const std::string& key, const YAML::Node& deps,
                      const std::function<void(const std::string& dir)>& fill) const;

 private:
  std::string entry_dir(const std::string& stage, const std::string& key) const;
  std::string root_;
};

// Removes an entry folder so that a concurrent reader never sees half of it: renamed aside, then
// deleted (what lookup does to a damaged entry; `twla cache prune`).
void discard_cache_entry(const std::string& dir);

// The cache a run uses: $TWLA_CACHE when set ("off" disables), else <output>/.cache, so the runs
// of one sweep share it. `override_dir` (a --cache flag) wins when not empty.
std::string default_cache_dir(const std::string& output, const std::string& override_dir = "");

}  // namespace twla
