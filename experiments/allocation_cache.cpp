// experiments/allocation_cache.cpp: see allocation_cache.h.
#include "experiments/allocation_cache.h"

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/fs.h"
#include "core/paths.h"
#include "eval/datasets.h"
#include "experiments/pipeline_cache.h"

namespace twla {
namespace {
using Json = nlohmann::json;
const char* kStage = "allocation";
const char* kFile = "/allocation.json";

std::string documents_sha(const std::string& dataset) {
  std::string file;
  calibration_documents(dataset, &file);
  return sha256_file(file);
}

double number(const Json& v) {   // JSON writes inf/NaN as null
  return v.is_number() ? v.get<double>() : std::numeric_limits<double>::quiet_NaN();
}
}  // namespace

YAML::Node allocation_deps(const std::string& weights_key, const YAML::Node& resolved) {
  YAML::Node n(YAML::NodeType::Map);
  n["stage"] = kStage;
  n["version"] = kStageCacheVersion;
  n["weights"] = weights_key;
  YAML::Node act = YAML::Clone(resolved["activations"]);
  if (act["allocator"].IsMap())
    for (const char* k : {"search", "workers", "shards"}) act["allocator"].remove(k);   // how, not what
  n["activations"] = act;
  n["compat"] = YAML::Clone(resolved["compat"]);
  n["calibration"] = YAML::Clone(resolved["calibration"]);
  n["calibration_data"] = documents_sha(resolved["calibration"]["dataset"].as<std::string>());
  n["batch"] = YAML::Clone(resolved["eval"]["batch"]);
  const YAML::Node& al = act["allocator"];
  if (al.IsMap() && al["allocation_data"]) {
    const std::string data = al["allocation_data"].as<std::string>();
    if (data == "wikitext2-test") n["allocation_data_sha256"] = sha256_file(load_ppl_dataset("wikitext2").file);
    else if (data.rfind("text:", 0) == 0) n["allocation_data_sha256"] = sha256_file(expand_path(data.substr(5)));
    else n["allocation_data_sha256"] = documents_sha(data);
  }
  return n;
}

bool cache_load_allocation(const StageCache& c, const YAML::Node& deps, Allocation* a, AllocationReport* r) {
  const std::string dir = c.lookup(kStage, StageCache::key(deps));
  if (dir.empty()) return false;
  const Json j = Json::parse(read_file(dir + kFile));
  a->act_bits = j.at("act_bits").get<std::vector<int>>();
  a->clip.clear();
  for (auto it = j.at("clip").begin(); it != j.at("clip").end(); ++it) a->clip[it.key()] = number(it.value());
  *r = AllocationReport{};
  for (auto it = j.at("series").begin(); it != j.at("series").end(); ++it)
    for (const auto& v : it.value()) r->series[it.key()].push_back(number(v));
  for (auto it = j.at("metrics").begin(); it != j.at("metrics").end(); ++it) r->metrics[it.key()] = number(it.value());
  for (auto it = j.at("timings").begin(); it != j.at("timings").end(); ++it) r->timings[it.key()] = number(it.value());
  r->notes = j.at("notes").get<std::vector<std::string>>();
  return true;
}

void cache_save_allocation(const StageCache& c, const YAML::Node& deps, const Allocation& a,
                           const AllocationReport& r) {
  // nlohmann writes doubles with enough digits to read back the same bits.
  const Json j{{"act_bits", a.act_bits}, {"clip", a.clip}, {"series", r.series},
               {"metrics", r.metrics},   {"timings", r.timings}, {"notes", r.notes}};
  c.publish(kStage, StageCache::key(deps), deps, [&](const std::string& dir) {
    write_file_atomic(dir + kFile, j.dump(1) + "\n");
  });
}

}  // namespace twla
