// experiments/sweep_plan.cpp: see sweep_plan.h.
#include "experiments/sweep_plan.h"

#include <filesystem>
#include <sstream>

#include "core/error.h"
#include "core/fields.h"
#include "core/fs.h"
#include "core/paths.h"
#include "core/strings.h"
#include "experiments/descriptor.h"
#include "experiments/pipeline.h"
#include "experiments/sweep.h"

namespace twla {

namespace fs = std::filesystem;

SweepPlan write_plan(const std::string& descriptor, const std::vector<std::string>& overrides) {
  YAML::Node sweep, slurm;
  YAML::Node base = load_descriptor_tree(descriptor, overrides, &sweep, &slurm);
  std::string output = base["output"] ? base["output"].as<std::string>() : Descriptor{}.output;
  output = fs::absolute(expand_path(output)).lexically_normal().string();
  base["output"] = output;  // excluded from the run id: only where results land
  SweepPlan plan;
  plan.name = base["name"] ? base["name"].as<std::string>() : Descriptor{}.name;
  plan.dir = output + "/.sweep";
  plan.slurm = slurm;
  make_dirs(plan.dir + "/runs");
  make_dirs(plan.dir + "/logs");
  std::string tsv = "# index\trun_id\tname\trun_dir\n";
  auto runs = expand_sweep(base, sweep);
  for (size_t i = 0; i < runs.size(); ++i) {
    YAML::Node resolved;
    Descriptor d = parse_descriptor(runs[i].tree, &resolved);
    PlannedRun r;
    r.index = int(i);
    r.id = run_id(resolved);
    r.name = d.name;
    r.run_dir = run_dir_of(d);
    r.descriptor = plan.dir + "/runs/" + std::to_string(i) + ".yaml";
    write_file_atomic(r.descriptor, "# run " + std::to_string(i) + " of sweep " + plan.name +
                                        " (run id " + r.id + "), from " + descriptor + "\n" +
                                        yaml_text(resolved) + "\n");
    tsv += std::to_string(i) + "\t" + r.id + "\t" + r.name + "\t" + r.run_dir + "\n";
    plan.runs.push_back(r);
  }
  write_file_atomic(plan.dir + "/plan.tsv", tsv);
  return plan;
}

bool run_done(const PlannedRun& r) {
  std::string f = r.run_dir + "/DONE";
  return file_exists(f) && trim(read_file(f)) == r.id;
}

std::vector<int> runs_to_resume(const SweepPlan& plan, const std::map<int, std::string>& states) {
  std::vector<int> out;
  for (const auto& r : plan.runs) {
    if (run_done(r)) continue;
    auto it = states.find(r.index);
    std::string s = it == states.end() ? "" : it->second;
    if (s == "pending" || s == "running") continue;
    out.push_back(r.index);
  }
  return out;
}

std::string format_status(const SweepPlan& plan, const std::map<int, std::string>& states) {
  std::ostringstream o;
  std::map<std::string, int> counts;
  for (const auto& r : plan.runs) {
    auto it = states.find(r.index);
    std::string s = run_done(r) ? kDone : it != states.end() ? it->second : kMissing;
    counts[s]++;
    o << r.index << "\t" << r.id << "\t" << s << "\t" << r.name << "\n";
  }
  std::vector<std::string> parts;
  for (const auto& [s, n] : counts) parts.push_back(std::to_string(n) + " " + s);
  o << plan.runs.size() << " runs: " << join(parts, ", ") << "\n";
  return o.str();
}

}  // namespace twla
