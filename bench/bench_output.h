// bench/bench_output.h: where a `twla bench ...` run's figures go: `--json FILE` (the bench's JSON,
// written atomically) and `--h5 FILE` (the same figures as a twla run file, results/run_file.h,
// so `twla show FILE` reads them and they sit beside a study's results). The JSON's leaves map
// to the run file by key path joined with '/': numbers and booleans (0/1) -> metrics, strings ->
// labels, arrays of numbers -> series; the command line -> config "command".
// Not here: what each bench measures (bench/*_bench.h).
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "results/run_record.h"

namespace twla::bench {

// The run record the --h5 file holds (exposed for the test of the mapping): named `name`, or
// "bench-<bench>" when empty; bench is the command's target ("kernels"), argv its flags.
RunRecord bench_record(const std::string& bench, const nlohmann::json& j, int argc, char** argv,
                       const std::string& name = "");
// Writes whichever of json_path / h5_path is non-empty, each atomically, and says so on stdout.
void write_bench_files(const std::string& bench, const nlohmann::json& j, const std::string& json_path,
                       const std::string& h5_path, int argc, char** argv, const std::string& name = "");

}  // namespace twla::bench
