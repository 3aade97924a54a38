// experiments/sweep.cpp: see sweep.h.
#include "experiments/sweep.h"

#include <map>

#include "core/error.h"
#include "core/fields.h"
#include "experiments/descriptor.h"

namespace twla {

namespace {
using Entry = std::vector<std::pair<std::string, YAML::Node>>;  // dotted key -> value

std::string value_tag(const YAML::Node& v) {
  if (v.IsScalar()) return v.as<std::string>();
  if (v.IsMap() && v["name"]) return v["name"].as<std::string>();
  return yaml_inline(v);
}

std::vector<Entry> list_entries(const YAML::Node& list) {
  TWLA_CHECK(list.IsSequence(), "sweep.list must be a list of maps (key: value per run)");
  std::vector<Entry> out;
  for (size_t i = 0; i < list.size(); ++i) {
    TWLA_CHECK(list[i].IsMap(), "sweep.list[", i, "] must be a map of descriptor keys to values");
    Entry e;
    for (auto it = list[i].begin(); it != list[i].end(); ++it)
      e.emplace_back(it->first.as<std::string>(), it->second);
    out.push_back(e);
  }
  return out;
}

std::vector<Entry> grid_entries(const YAML::Node& grid) {
  TWLA_CHECK(grid.IsMap(), "sweep.grid must map descriptor keys to lists of values");
  std::vector<Entry> out{{}};
  for (auto it = grid.begin(); it != grid.end(); ++it) {
    std::string key = it->first.as<std::string>();
    TWLA_CHECK(it->second.IsSequence() && it->second.size() > 0, "sweep.grid.", key,
               " must be a non-empty list of values");
    std::vector<Entry> next;
    for (const auto& e : out)
      for (size_t i = 0; i < it->second.size(); ++i) {
        Entry n = e;
        n.emplace_back(key, it->second[i]);
        next.push_back(n);
      }
    out = next;
  }
  return out;
}

std::vector<Entry> zip_entries(const YAML::Node& zip) {
  TWLA_CHECK(zip.IsMap(), "sweep.zip must map descriptor keys to lists of equal length");
  size_t n = 0;
  for (auto it = zip.begin(); it != zip.end(); ++it) {
    std::string key = it->first.as<std::string>();
    TWLA_CHECK(it->second.IsSequence(), "sweep.zip.", key, " must be a list");
    TWLA_CHECK(n == 0 || it->second.size() == n, "sweep.zip.", key, " has ", it->second.size(),
               " values but the other zip lists have ", n);
    n = it->second.size();
  }
  std::vector<Entry> out(n);
  for (auto it = zip.begin(); it != zip.end(); ++it)
    for (size_t i = 0; i < n; ++i) out[i].emplace_back(it->first.as<std::string>(), it->second[i]);
  return out;
}
}  // namespace

std::vector<SweepRun> expand_sweep(const YAML::Node& base, const YAML::Node& sweep) {
  std::string base_name = base["name"] ? base["name"].as<std::string>() : "run";
  if (!sweep || sweep.IsNull()) return {{base_name, YAML::Clone(base)}};
  TWLA_CHECK(sweep.IsMap(), "sweep must be a map with list:, grid: and/or zip:");
  std::vector<Entry> parts[3] = {{{}}, {{}}, {{}}};
  for (auto it = sweep.begin(); it != sweep.end(); ++it) {
    std::string k = it->first.as<std::string>();
    if (k == "list") parts[0] = list_entries(it->second);
    else if (k == "grid") parts[1] = grid_entries(it->second);
    else if (k == "zip") parts[2] = zip_entries(it->second);
    else TWLA_FAIL("unknown sweep field 'sweep.", k, "'", did_you_mean(k, {"list", "grid", "zip"}));
  }
  std::vector<SweepRun> runs;
  std::map<std::string, int> seen;
  for (const auto& a : parts[0])
    for (const auto& b : parts[1])
      for (const auto& c : parts[2]) {
        YAML::Node tree = YAML::Clone(base);
        std::string name = base_name, tags;
        for (const auto* e : {&a, &b, &c}) {
          bool named = false;
          for (const auto& [key, value] : *e)
            if (key == "name") { name = value.as<std::string>(); named = true; }
          for (const auto& [key, value] : *e) {
            if (key == "name") continue;
            set_dotted(tree, key, value);
            if (!named) tags += "-" + value_tag(value);
          }
        }
        name += tags;
        TWLA_CHECK(seen[name]++ == 0, "sweep produces two runs named '", name,
                   "'; give list entries distinct `name:` values");
        tree["name"] = name;
        runs.push_back({name, tree});
      }
  return runs;
}

}  // namespace twla
