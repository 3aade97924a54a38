// tests/support/golden.h: loads one case of ../shared/golden (a .safetensors + .json pair; see
// that folder's README) for tests and `twla check-golden`.
#pragma once
#include <nlohmann/json.hpp>

#include <memory>
#include <string>

#include "core/safetensors.h"

namespace twla::test {

struct GoldenCase {
  std::string name;
  nlohmann::json meta;                      // the .json sidecar
  std::shared_ptr<SafetensorsFile> file;    // the tensors
  Tensor t(const std::string& key) const { return file->load_raw(key); }  // stored dtype
  Tensor f32(const std::string& key) const { return file->load(key, at::kFloat); }
  Tensor f64(const std::string& key) const { return file->load(key, at::kDouble); }
  bool has(const std::string& key) const { return file->has(key); }
};

GoldenCase load_golden(const std::string& name);  // from data_dir()/golden/<name>
std::string golden_dir();

}  // namespace twla::test
