// bench/bench_output.cpp: see bench_output.h.
#include "bench/bench_output.h"

#include <ctime>
#include <iostream>

#include "core/fs.h"
#include "results/run_file.h"

namespace twla::bench {
namespace {
void flatten(const nlohmann::json& v, const std::string& key, RunRecord& r) {
  if (v.is_object()) {
    for (auto it = v.begin(); it != v.end(); ++it) flatten(it.value(), key.empty() ? it.key() : key + "/" + it.key(), r);
  } else if (v.is_array()) {
    bool numbers = !v.empty();
    for (const auto& e : v) numbers = numbers && e.is_number();
    if (numbers) {
      for (const auto& e : v) r.series[key].push_back(e.get<double>());
    } else {
      for (size_t i = 0; i < v.size(); ++i) flatten(v[i], key + "/" + std::to_string(i), r);
    }
  } else if (v.is_number()) {
    r.metrics[key] = v.get<double>();
  } else if (v.is_boolean()) {
    r.metrics[key] = v.get<bool>() ? 1 : 0;
  } else if (v.is_string()) {
    r.labels[key] = v.get<std::string>();
  }
}
}  // namespace

RunRecord bench_record(const std::string& bench, const nlohmann::json& j, int argc, char** argv,
                       const std::string& name) {
  RunRecord r;
  r.name = name.empty() ? "bench-" + bench : name;
  r.run_id = r.name;
  r.status = "bench";
  std::string cmd = "twla bench " + bench;
  for (int i = 0; i < argc; ++i) cmd += std::string(" ") + argv[i];   // the flags as the bench saw them
  r.config_flat.emplace_back("command", cmd);
  r.descriptor_yaml = "command: '" + cmd + "'\n";
  char when[32];
  const std::time_t now = std::time(nullptr);
  std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  r.labels["date"] = when;
  flatten(j, "", r);
  return r;
}

void write_bench_files(const std::string& bench, const nlohmann::json& j, const std::string& json_path,
                       const std::string& h5_path, int argc, char** argv, const std::string& name) {
  if (!json_path.empty()) {
    write_file_atomic(json_path, j.dump(2) + "\n");
    std::cout << "wrote " << json_path << "\n";
  }
  if (!h5_path.empty()) {
    write_run(h5_path, bench_record(bench, j, argc, argv, name));
    std::cout << "wrote " << h5_path << "\n";
  }
}

}  // namespace twla::bench
