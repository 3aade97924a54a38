// results/aggregate.cpp: mean_over() of aggregate.h.
#include "results/aggregate.h"

#include <cmath>
#include <map>
#include <set>

#include "core/error.h"
#include "core/strings.h"

namespace twla {

namespace {

// The run's descriptor without the fields that differ by construction between members.
std::string group_key(const RunRecord& r, const std::string& field) {
  std::string key;
  for (const auto& [k, v] : r.config_flat) {
    if (k == field || k == "name" || k == "output") continue;
    key += k + "=" + v + "\n";
  }
  return key;
}

const std::string* field_value(const RunRecord& r, const std::string& field) {
  for (const auto& kv : r.config_flat)
    if (kv.first == field) return &kv.second;
  return nullptr;
}

// "cal-1-none" with value "1" -> "cal-none": the first '-'/'_'-separated token equal to the value.
std::string strip_token(const std::string& name, const std::string& value) {
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = name.find_first_of("-_", start);
    if (end == std::string::npos) end = name.size();
    if (name.compare(start, end - start, value) == 0 && end - start == value.size()) {
      if (end < name.size()) return name.substr(0, start) + name.substr(end + 1);
      return start == 0 ? name : name.substr(0, start - 1);
    }
    start = end + 1;
  }
  return name;
}

}  // namespace

std::vector<RunRecord> mean_over(const std::vector<RunRecord>& runs, const std::string& field) {
  bool any = false;
  std::set<std::string> keys;
  for (const RunRecord& r : runs) {
    any = any || field_value(r, field) != nullptr;
    for (const auto& kv : r.config_flat) keys.insert(kv.first);
  }
  TWLA_CHECK(runs.empty() || any, "report --mean-over: no run has the descriptor field '", field, "';",
             did_you_mean(field, {keys.begin(), keys.end()}),
             " (fields are dotted paths as `twla show` lists them, e.g. calibration.seed)");
  std::vector<std::string> order;
  std::map<std::string, std::vector<const RunRecord*>> groups;
  for (const RunRecord& r : runs) {
    std::string k = group_key(r, field);
    if (!groups.count(k)) order.push_back(k);
    groups[k].push_back(&r);
  }
  std::vector<RunRecord> out;
  for (const std::string& k : order) {
    const auto& members = groups.at(k);
    RunRecord m = *members.front();
    const std::string* v = field_value(m, field);
    if (v) m.name = strip_token(m.name, *v);
    for (auto& kv : m.config_flat)
      if (kv.first == field) kv.second = "*";
    m.metrics.clear();
    m.layers.clear();
    m.series.clear();
    m.timings.clear();
    for (const auto& [metric, first] : members.front()->metrics) {
      std::vector<double> xs;
      for (const RunRecord* r : members) {
        auto it = r->metrics.find(metric);
        if (it != r->metrics.end()) xs.push_back(it->second);
      }
      if (xs.size() != members.size()) continue;   // a mean of fewer runs would mislead
      double mean = 0;
      for (double x : xs) mean += x;
      mean /= double(xs.size());
      double ss = 0;
      for (double x : xs) ss += (x - mean) * (x - mean);
      m.metrics[metric] = mean;
      if (xs.size() > 1) m.metrics[metric + kSdSuffix] = std::sqrt(ss / double(xs.size() - 1));
    }
    m.name += " (n=" + std::to_string(members.size()) + ")";
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace twla
