// results/aggregate.h: runs that differ only in one descriptor field (a seed, usually) folded into
// one row each: the mean of every metric all of them have, its sample standard deviation as the
// metric "<key>@sd", and the count in the name ("... (n=4)"). `twla report DIR --mean-over
// calibration.seed`.
// Not here: the tables themselves (report.h print "mean ± sd" where "@sd" is present).
#pragma once
#include <string>
#include <vector>

#include "results/run_record.h"

namespace twla {

// Groups `runs` by their resolved descriptor (config_flat) without `field`, `name` and `output`;
// each group becomes one record: the first run's labels and config (with `field` = "*"), the name
// of the first run with the token that spells its `field` value removed and the count appended
// (e.g. "cal-1-none" -> "cal-none (n=4)"), and the mean metrics. Groups keep the order of their first run. Error (naming the
// field and the keys that exist) when no run has `field`.
std::vector<RunRecord> mean_over(const std::vector<RunRecord>& runs, const std::string& field);

// The suffix of the standard-deviation metrics mean_over() adds.
constexpr const char* kSdSuffix = "@sd";

}  // namespace twla
