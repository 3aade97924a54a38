// experiments/cache_admin.cpp: see cache_admin.h.
#include "experiments/cache_admin.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "core/error.h"
#include "experiments/stage_cache.h"

namespace twla {
namespace fs = std::filesystem;

namespace {
bool is_key(const std::string& name) {
  return name.size() == 64 && std::all_of(name.begin(), name.end(), [](char c) { return std::isxdigit(uint8_t(c)); });
}

std::time_t to_time_t(fs::file_time_type t) {
  using namespace std::chrono;
  return system_clock::to_time_t(time_point_cast<system_clock::duration>(t - fs::file_time_type::clock::now() +
                                                                         system_clock::now()));
}

// The deps fields that tell entries apart at a glance.
std::string summarize(const std::string& deps_file) {
  std::string s;
  try {
    const YAML::Node d = YAML::LoadFile(deps_file);
    auto add = [&](const std::string& k, const YAML::Node& v) {
      if (!v) return;
      std::string text = v.IsScalar() ? v.as<std::string>() : v.IsMap() && v["name"] ? v["name"].as<std::string>() : "";
      if (k == "model") text = v["path"] ? fs::path(v["path"].as<std::string>()).filename().string() : "";
      if (!text.empty()) s += (s.empty() ? "" : " ") + k + "=" + text;
    };
    add("model", d["model"]);
    for (const char* k : {"quantizer", "rotation", "task", "windows"}) add(k, d[k]);
    if (d["activations"] && d["activations"]["bits"]) add("abits", d["activations"]["bits"]);
    if (d["activations"] && d["activations"]["allocator"]) add("allocator", d["activations"]["allocator"]);
  } catch (const YAML::Exception&) {
    s = "(deps.yaml unreadable)";
  }
  return s;
}
}  // namespace

std::vector<CacheEntryInfo> list_cache(const std::string& root) {
  TWLA_CHECK(fs::is_directory(root), "cache folder '", root,
             "' does not exist; give the folder runs use (--cache DIR, $TWLA_CACHE, or <output>/.cache)");
  std::vector<CacheEntryInfo> out;
  for (const auto& st : fs::directory_iterator(root)) {
    if (!st.is_directory()) continue;
    for (const auto& e : fs::directory_iterator(st.path())) {
      const std::string key = e.path().filename().string();
      const fs::path manifest = e.path() / "MANIFEST";
      if (!e.is_directory() || !is_key(key) || !fs::exists(manifest)) continue;
      CacheEntryInfo i;
      i.stage = st.path().filename().string();
      i.key = key;
      i.dir = e.path().string();
      for (const auto& f : fs::recursive_directory_iterator(e.path()))
        if (f.is_regular_file()) i.bytes += int64_t(f.file_size());
      i.written = to_time_t(fs::last_write_time(manifest));
      i.summary = summarize((e.path() / "deps.yaml").string());
      out.push_back(std::move(i));
    }
  }
  std::sort(out.begin(), out.end(), [](const CacheEntryInfo& a, const CacheEntryInfo& b) {
    return a.stage != b.stage ? a.stage < b.stage : a.written != b.written ? a.written < b.written : a.key < b.key;
  });
  return out;
}

std::vector<CacheEntryInfo> prune_cache(const std::string& root, const std::string& stage, double older_than_days,
                                        bool dry_run) {
  const std::time_t now = std::time(nullptr);
  std::vector<CacheEntryInfo> gone;
  for (auto& e : list_cache(root)) {
    if (!stage.empty() && e.stage != stage) continue;
    if (older_than_days >= 0 && double(now - e.written) < older_than_days * 86400.0) continue;
    if (!dry_run) discard_cache_entry(e.dir);
    gone.push_back(std::move(e));
  }
  return gone;
}

}  // namespace twla
