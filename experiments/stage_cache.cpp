// experiments/stage_cache.cpp: see stage_cache.h.
#include "experiments/stage_cache.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <sstream>

#include "core/error.h"
#include "core/fields.h"
#include "core/fs.h"
#include "core/paths.h"

namespace twla {

namespace fs = std::filesystem;

namespace {
constexpr const char* kManifest = "MANIFEST";

// name -> sha256 of every regular file in `dir` but the MANIFEST.
std::map<std::string, std::string> hash_files(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::string name = e.path().filename().string();
    if (name == kManifest) continue;
    out[name] = e.is_regular_file() ? sha256_file(e.path().string()) : "not-a-file";
  }
  return out;
}

std::string manifest_text(const std::map<std::string, std::string>& hashes) {
  std::string s;
  for (const auto& [name, h] : hashes) s += h + "  " + name + "\n";
  return s;
}

// Why the entry is damaged, or "" when every file matches the MANIFEST.
std::string verify(const std::string& dir) {
  std::string m = dir + "/" + kManifest;
  if (!file_exists(m)) return "no MANIFEST";
  std::map<std::string, std::string> want;
  std::istringstream in(read_file(m));
  for (std::string line; std::getline(in, line);) {
    auto sp = line.find("  ");
    if (sp != 64) return "MANIFEST line '" + line + "' is not '<sha256>  <file>'";
    want[line.substr(sp + 2)] = line.substr(0, sp);
  }
  auto have = hash_files(dir);
  for (const auto& [name, h] : want) {
    auto it = have.find(name);
    if (it == have.end()) return name + " is missing";
    if (it->second != h) return name + " does not match its sha256";
  }
  for (const auto& [name, h] : have)
    if (!want.count(name)) return name + " is not in the MANIFEST";
  return "";
}

}  // namespace

void discard_cache_entry(const std::string& dir) {
  std::error_code ec;
  std::string trash = dir + ".trash." + std::to_string(::getpid());
  fs::rename(dir, trash, ec);
  fs::remove_all(ec ? fs::path(dir) : fs::path(trash), ec);
}

std::string StageCache::key(const YAML::Node& deps) {
  std::string text = yaml_text(deps);
  return sha256_bytes(text.data(), text.size());
}

std::string StageCache::entry_dir(const std::string& stage, const std::string& key) const {
  return root_ + "/" + stage + "/" + key;
}

std::string StageCache::lookup(const std::string& stage, const std::string& key) const {
  if (!enabled()) return "";
  std::string dir = entry_dir(stage, key);
  if (!dir_exists(dir)) return "";
  std::string why = verify(dir);
  if (why.empty()) return dir;
  std::cerr << "twla: cache entry " << dir << " is damaged (" << why << "); recomputing it\n";
  discard_cache_entry(dir);
  return "";
}

std::string StageCache::publish(const std::string& stage, const std::string& key,
                                const YAML::Node& deps,
                                const std::function<void(const std::string& dir)>& fill) const {
  if (!enabled()) return "";
  if (std::string have = lookup(stage, key); !have.empty()) return have;  // published already
  std::string dir = entry_dir(stage, key);
  std::string tmp = dir + ".tmp." + std::to_string(::getpid());
  std::error_code ec;
  fs::remove_all(tmp, ec);
  make_dirs(tmp);
  try {
    fill(tmp);
    write_file_atomic(tmp + "/deps.yaml", yaml_text(deps) + "\n");
    write_file_atomic(tmp + "/" + kManifest, manifest_text(hash_files(tmp)));
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
  fs::rename(tmp, dir, ec);  // fails when the entry exists (published by another run): keep it
  if (ec) {
    fs::remove_all(tmp, ec);
    if (!verify(dir).empty()) {  // what is there is damaged: replace it
      discard_cache_entry(dir);
      return publish(stage, key, deps, fill);
    }
  }
  return dir;
}

std::string default_cache_dir(const std::string& output, const std::string& override_dir) {
  std::string d = override_dir;
  if (d.empty())
    if (const char* e = std::getenv("TWLA_CACHE")) d = e;
  if (d == "off") return "";
  return d.empty() ? expand_path(output) + "/.cache" : expand_path(d);
}

}  // namespace twla
