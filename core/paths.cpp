// core/paths.cpp: see paths.h.
#include "core/paths.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "core/error.h"
#include "core/fs.h"

namespace twla {

namespace {
std::string g_data_dir;

}  // namespace

std::string executable_dir() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "";
  buf[n] = 0;
  return std::filesystem::path(buf).parent_path().string();
}

void set_data_dir(const std::string& dir) { g_data_dir = dir; }

std::string data_dir() {
  if (!g_data_dir.empty()) {
    TWLA_CHECK(dir_exists(g_data_dir), "--data-dir '", g_data_dir, "' is not a directory");
    return g_data_dir;
  }
  if (const char* env = std::getenv("TWLA_DATA"); env && *env) {
    TWLA_CHECK(dir_exists(env), "TWLA_DATA='", env, "' is not a directory");
    return env;
  }
  // ../shared from the working directory (the checkout), else from the build tree's checkout.
  std::vector<std::string> tries = {"../shared"};
  std::string e = executable_dir();
  for (int up = 1; up <= 4 && !e.empty(); ++up) {
    e = std::filesystem::path(e).parent_path().string();
    tries.push_back(e + "/../shared");
  }
  for (const auto& t : tries)
    if (dir_exists(t + "/data") || dir_exists(t + "/models"))
      return std::filesystem::weakly_canonical(t).string();
  TWLA_FAIL("no data directory: ../shared does not exist; pass --data-dir DIR or set TWLA_DATA");
}

std::string expand_path(const std::string& p) {
  std::string out = p;
  const std::string key = "${data}";
  for (size_t pos; (pos = out.find(key)) != std::string::npos;)
    out.replace(pos, key.size(), data_dir());
  if (!out.empty() && out[0] == '~') {
    if (const char* home = std::getenv("HOME")) out = home + out.substr(1);
  }
  return out;
}

std::string data_file(const std::string& rel, const std::string& what) {
  std::string p = data_dir() + "/" + rel;
  TWLA_CHECK(file_exists(p), what, ": data file '", p,
             "' is missing; check --data-dir/TWLA_DATA (now '", data_dir(), "')");
  return p;
}

}  // namespace twla
