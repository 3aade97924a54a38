// experiments/allocation_farm.cpp: see allocation_farm.h.
#include "experiments/allocation_farm.h"

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <regex>
#include <set>

#include "allocators/ila_amp.h"
#include "allocators/ila_amp_cost.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/model_config.h"
#include "core/paths.h"
#include "experiments/descriptor.h"

namespace twla {

namespace {
using Json = nlohmann::ordered_json;   // fields in the order written
const char* kFormat = "twla-ila-amp-shard";
const int kVersion = 1;

// A field of a shard file; Error naming the file and the field.
const Json& field(const Json& root, const char* name, const std::string& file) {
  auto it = root.find(name);
  TWLA_CHECK(it != root.end() && !it->is_null(), "shard file '", file, "' has no '", name,
             "' (truncated or not written by twla allocate --shard?); delete it and measure again");
  return *it;
}
}  // namespace

std::string shard_file(const std::string& run_dir, int k, int n) {
  return run_dir + "/allocation/shard-" + std::to_string(k) + "-of-" + std::to_string(n) + ".json";
}

std::vector<int> shard_counts_in(const std::string& run_dir) {
  std::set<int> out;
  const std::string d = run_dir + "/allocation";
  if (!dir_exists(d)) return {};
  static const std::regex re("shard-([0-9]+)-of-([0-9]+)\\.json");
  for (const auto& e : std::filesystem::directory_iterator(d)) {
    std::smatch m;
    const std::string name = e.path().filename().string();
    if (std::regex_match(name, m, re)) out.insert(std::stoi(m[2].str()));
  }
  return {out.begin(), out.end()};
}

std::string shard_json(const IlaAmpShardResult& r) {
  // nlohmann writes doubles in the shortest form that reads back to the same bits.
  Json j{{"format", kFormat}, {"version", kVersion}, {"allocation_key", r.key}, {"shard", r.shard + 1},
         {"shards", r.shards}, {"n_jobs", r.n_jobs}, {"base_nll", r.base_nll}, {"jobs", r.jobs},
         {"nll", r.nll}};
  return j.dump(1) + "\n";
}

void write_shard(const std::string& file, const IlaAmpShardResult& r) {
  make_dirs(std::filesystem::path(file).parent_path().string());
  write_file_atomic(file, shard_json(r));
}

IlaAmpShardResult read_shard(const std::string& file) {
  TWLA_CHECK(file_exists(file), "shard file '", file, "' does not exist");
  Json root;
  try {
    root = Json::parse(read_file(file));
  } catch (const Json::exception& e) {
    TWLA_FAIL("shard file '", file, "' is not valid JSON (", e.what(), "); delete it and measure again");
  }
  TWLA_CHECK(root.is_object(), "shard file '", file, "' is not a JSON object; delete it and measure again");
  IlaAmpShardResult r;
  r.file = file;
  try {
    const std::string format = field(root, "format", file).get<std::string>();
    TWLA_CHECK(format == kFormat, "shard file '", file, "' is not a twla shard result (format '", format, "')");
    const int version = field(root, "version", file).get<int>();
    TWLA_CHECK(version == kVersion, "shard file '", file, "' has version ", version, "; this twla reads ",
               kVersion, ": measure it again with this twla");
    r.key = field(root, "allocation_key", file).get<std::string>();
    r.shard = field(root, "shard", file).get<int>() - 1;
    r.shards = field(root, "shards", file).get<int>();
    r.n_jobs = field(root, "n_jobs", file).get<int64_t>();
    r.base_nll = field(root, "base_nll", file).get<double>();
    r.jobs = field(root, "jobs", file).get<std::vector<int>>();
    r.nll = field(root, "nll", file).get<std::vector<double>>();
  } catch (const Json::exception& e) {
    TWLA_FAIL("shard file '", file, "' has a malformed field (", e.what(), "); delete it and measure again");
  }
  return r;
}

std::string work_list_json(const std::vector<IlaAmpJob>& jobs, const IlaAmpShardPlan& plan, int L,
                           const std::vector<int>& candidates, int baseline, const std::string& key) {
  const IlaAmpCost c = ila_amp_cost(jobs, L);
  Json head{{"allocation_key", key}, {"n_blocks", L}, {"candidates", candidates}, {"baseline", baseline},
            {"evaluations", jobs.size()}, {"groups", plan.groups}, {"naive_blocks", c.naive_blocks},
            {"cached_blocks", c.cached_blocks}, {"shards", plan.shards}, {"shard_blocks", plan.blocks}};
  // One job per line: the head's text, its closing brace replaced by the job list.
  std::string out = head.dump();
  out.pop_back();
  out += ",\"jobs\":[\n";
  static const char* kinds[] = {"base", "single", "pair"};
  for (size_t j = 0; j < jobs.size(); ++j) {
    const auto& job = jobs[j];
    Json e{{"id", j}, {"kind", kinds[job.kind]}, {"block", job.block}, {"start", job.start}, {"bits", job.bits},
           {"shard", plan.shard_of[j] < 0 ? 0 : plan.shard_of[j] + 1}, {"blocks", plan.job_blocks[j]}};
    out += " " + e.dump() + (j + 1 < jobs.size() ? ",\n" : "\n");
  }
  return out + "]}\n";
}

std::string allocation_key(const YAML::Node& resolved) {
  YAML::Node t = YAML::Clone(resolved);
  if (t["activations"] && t["activations"]["allocator"] && t["activations"]["allocator"].IsMap())
    t["activations"]["allocator"].remove("shards");
  return run_id(t);
}

int allocation_shards(const YAML::Node& resolved) {
  const YAML::Node a = resolved["activations"]["allocator"];
  if (!a || !a["name"] || a["name"].as<std::string>() != "ila-amp" || !a["shards"]) return 0;
  return a["shards"].as<int>();
}

std::string allocation_work_list(const YAML::Node& tree, int shards) {
  YAML::Node resolved;
  const Descriptor d = parse_descriptor(tree, &resolved);
  TWLA_CHECK(d.activations.allocator.name == "ila-amp", "run '", d.name, "' has activations.allocator ",
             d.activations.allocator.name, "; only ila-amp has a work list of evaluations to farm out");
  IlaAmpConfig cfg;
  parse_fields(cfg, d.activations.allocator.params, "activations.allocator");
  const int L = read_model_config(expand_path(d.model.path)).num_layers;
  const auto jobs = ila_amp_jobs(L, cfg.candidates, cfg.baseline);
  const int n = shards > 0 ? shards : std::max(1, cfg.shards);
  const IlaAmpShardPlan plan = ila_amp_shard_plan(jobs, L, n, shards > 0 ? "--shards" : "activations.allocator.shards");
  return work_list_json(jobs, plan, L, cfg.candidates, cfg.baseline, allocation_key(resolved));
}

RunDirFarm::RunDirFarm(std::string run_dir, std::string key, int only_shard, int only_of,
                       std::function<void(const std::string&)> log)
    : dir_(std::move(run_dir)), key_(std::move(key)), only_shard_(only_shard), only_of_(only_of),
      log_(std::move(log)) {}

std::optional<std::vector<double>> RunDirFarm::measure(
    const NllEvaluator& ev, const std::vector<IlaAmpJob>& jobs, int L, int shards, int workers,
    const std::function<std::vector<double>()>& in_process) const {
  if (only_shard_ >= 0) {
    TWLA_CHECK(shards == 0 || shards == only_of_, "--shard ", only_shard_ + 1, "/", only_of_,
               ": the descriptor splits the evaluations into activations.allocator.shards=", shards,
               "; use --shard k/", shards);
    const IlaAmpShardPlan plan = ila_amp_shard_plan(jobs, L, only_of_, "--shard k/n with n");
    IlaAmpShardResult r = ila_amp_measure_shard(ev, jobs, plan, only_shard_, workers, key_);
    const std::string f = shard_file(dir_, only_shard_ + 1, only_of_);
    write_shard(f, r);
    log_("ila-amp: shard " + std::to_string(only_shard_ + 1) + " of " + std::to_string(only_of_) + ": " +
         std::to_string(r.jobs.size()) + " of " + std::to_string(jobs.size()) + " evaluations -> " + f);
    return std::nullopt;
  }
  int n = shards;
  if (n == 0) {   // no setting: the split whose shards the run dir holds most of
    size_t best = 0;
    for (int c : shard_counts_in(dir_)) {
      size_t have = 0;
      for (int k = 1; k <= c; ++k) have += file_exists(shard_file(dir_, k, c));
      if (have > best) best = have, n = c;
    }
  }
  if (n == 0) return in_process();
  const IlaAmpShardPlan plan = ila_amp_shard_plan(jobs, L, n, "activations.allocator.shards");
  std::vector<IlaAmpShardResult> results;
  int found = 0;
  for (int k = 0; k < n; ++k) {
    const std::string f = shard_file(dir_, k + 1, n);
    if (file_exists(f)) {
      results.push_back(read_shard(f));
      check_ila_amp_shard(results.back(), plan, jobs.size(), key_);
      ++found;
      continue;
    }
    results.push_back(ila_amp_measure_shard(ev, jobs, plan, k, workers, key_));
    write_shard(f, results.back());   // a killed run resumes from here
  }
  log_("ila-amp: " + std::to_string(n) + " shards: " + std::to_string(found) + " read from " + dir_ +
       "/allocation, " + std::to_string(n - found) + " measured here");
  return ila_amp_merge_shards(results, plan, jobs.size(), key_);
}

}  // namespace twla
