// apps/cmd_cache.cpp: `twla cache list|prune [DIR]`: a stage cache's entries (stage, key, size,
// age, what they were made from) and their removal by stage and age (experiments/cache_admin.h).
#include <boost/program_options.hpp>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>

#include "apps/commands.h"
#include "apps/flags.h"
#include "core/error.h"
#include "experiments/cache_admin.h"

namespace po = boost::program_options;

namespace twla::cli {
namespace {
std::string human(int64_t bytes) {
  char b[32];
  const double v = double(bytes);
  if (v >= 1 << 30) std::snprintf(b, sizeof b, "%.2f GiB", v / (1 << 30));
  else if (v >= 1 << 20) std::snprintf(b, sizeof b, "%.1f MiB", v / (1 << 20));
  else std::snprintf(b, sizeof b, "%.1f KiB", v / 1024);
  return b;
}

std::string age(std::time_t t) {
  const double d = double(std::time(nullptr) - t) / 86400.0;
  char b[32];
  if (d >= 1) std::snprintf(b, sizeof b, "%.1f d", d);
  else std::snprintf(b, sizeof b, "%.1f h", d * 24);
  return b;
}

void print(const std::vector<CacheEntryInfo>& v, const char* verb) {
  std::map<std::string, std::pair<int, int64_t>> per_stage;
  for (const auto& e : v) {
    std::printf("%-10s %s  %10s  %7s  %s\n", e.stage.c_str(), e.key.substr(0, 12).c_str(), human(e.bytes).c_str(),
                age(e.written).c_str(), e.summary.c_str());
    ++per_stage[e.stage].first, per_stage[e.stage].second += e.bytes;
  }
  int64_t all = 0;
  for (const auto& [s, n] : per_stage) {
    std::printf("%s %s: %d entries, %s\n", verb, s.c_str(), n.first, human(n.second).c_str());
    all += n.second;
  }
  std::printf("%s in all: %zu entries, %s\n", verb, v.size(), human(all).c_str());
}
}  // namespace

int cmd_cache(const Args& a) {
  const char* usage = "twla cache list|prune [DIR] [--stage S] [--older-than DAYS] [--dry-run]  "
                      "(DIR: default $TWLA_CACHE, else runs/.cache)";
  po::options_description desc("twla cache");
  std::string action, dir, stage;
  double older = -1;
  desc.add_options()("help,h", "this help")("action", po::value(&action)->required(), "list or prune")(
      "dir", po::value(&dir), "the cache folder")(
      "stage", po::value(&stage), "prune: only this stage (weights, rotation, allocation, fp_hidden, eval)")(
      "older-than", po::value(&older), "prune: only entries written more than DAYS ago")(
      "dry-run", "prune: say what would go, remove nothing");
  po::positional_options_description pos;
  pos.add("action", 1).add("dir", 1);
  po::variables_map vm = parse_flags(a, desc, pos, usage);
  TWLA_CHECK(action == "list" || action == "prune", "'", action, "' is not an action; use list or prune");
  if (dir.empty()) {
    const char* e = std::getenv("TWLA_CACHE");
    dir = e && *e && std::string(e) != "off" ? e : "runs/.cache";
  }
  if (action == "list") {
    print(list_cache(dir), "cached");
    return 0;
  }
  TWLA_CHECK(!stage.empty() || older >= 0, "prune: give --stage and/or --older-than (to empty the "
             "whole cache, delete ", dir, ")");
  const bool dry = vm.count("dry-run") > 0;
  print(prune_cache(dir, stage, older, dry), dry ? "would remove" : "removed");
  return 0;
}

}  // namespace twla::cli
