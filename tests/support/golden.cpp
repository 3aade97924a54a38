// tests/support/golden.cpp: see golden.h.
#include "tests/support/golden.h"

#include "core/fs.h"
#include "core/paths.h"

namespace twla::test {

std::string golden_dir() { return data_dir() + "/golden"; }

GoldenCase load_golden(const std::string& name) {
  GoldenCase g;
  g.name = name;
  std::string base = golden_dir() + "/" + name;
  g.meta = nlohmann::json::parse(read_file(base + ".json"));
  g.file = std::make_shared<SafetensorsFile>(base + ".safetensors");
  return g;
}

}  // namespace twla::test
