// results/run_file.h: one HDF5 file per run (`results.h5` in the run directory): write it
// atomically, read it back, collect every run below a sweep directory.
// Not here: the schema itself (documented at the top of run_file.cpp), tables (report.h).
// Debian's HDF5 is built without thread safety: read and write run files from one thread at a time.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "results/run_record.h"

namespace twla {

inline constexpr const char* kRunFileName = "results.h5";   // what read_runs looks for
inline constexpr long long kRunFormatVersion = 1;           // bump when the schema changes

// Writes to a temp file next to `path`, then renames: readers see the old file or the new one,
// never half of one. Throws Error naming the field and the fix when the record is invalid (a
// duplicate config key, an empty name); no temp file stays behind.
void write_run(const std::string& path, const RunRecord& r);
// Error naming the file when it is missing, not HDF5, truncated, or not a twla run file.
RunRecord read_run(const std::string& path);
// Every results.h5 below `dir` (recursive), sorted by name, then run_id.
std::vector<RunRecord> read_runs(const std::string& dir);

namespace testing {
// Called by write_run after each section ("root", "config", ... "series") while the temp file is
// open; a test makes it throw to check that a failed write leaves nothing behind. Empty = off.
void set_write_run_hook(std::function<void(const std::string& section)> hook);
}  // namespace testing

}  // namespace twla
