// tests/results/fixtures.h: a scratch directory and sample run records for the results tests.
#pragma once
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <fstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "results/run_record.h"
#include "tests/support/util.h"   // error_of

namespace twla::test {

// A fresh directory under the system temp dir, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    static int n = 0;
    path_ = std::filesystem::temp_directory_path() /
            ("twla-test-results-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }
  std::string str() const { return path_.string(); }
  // Names of the files directly in the directory, sorted.
  std::vector<std::string> files() const {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(path_))
      out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }

 private:
  std::filesystem::path path_;
};

inline void write_text(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

inline std::string read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

// True when `path` starts with the PNG signature and has more than it.
inline bool is_png(const std::string& path) {
  std::string bytes = read_text(path);
  return bytes.size() > 8 && bytes.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0;
}

// A run with every field filled, non-ASCII text included.
inline RunRecord full_record() {
  RunRecord r;
  r.run_id = "3f2a9c0d11e4";
  r.name = "w1.58a4-e2m_atq-κ";
  r.descriptor_yaml = "model: llama-2-7b\nquantizer:\n  name: e2m_atq\n  note: \"ternär ✓\"\n";
  r.config_flat = {{"quantizer.name", "e2m_atq"}, {"model", "llama-2-7b"}, {"quantizer.bits", "2"},
                   {"rotation.name", "kotms"}, {"eval.tasks", "[wikitext2, c4]"}};
  r.git = "abc123def456-dirty";
  r.input_sha256 = {{"model/model.safetensors", std::string(64, 'a')},
                    {"calib/c4.bin", std::string(64, 'b')}};
  r.labels = {{"method", "e2m_atq"}, {"wbits", "1.58"}, {"abits", "4"}, {"rotation", "kotms"},
              {"allocator", "ila_amp"}, {"model", "llama-2-7b"}};
  r.metrics = {{"ppl/wikitext2", 9.8765}, {"kl/wikitext2", 0.125}, {"top1/wikitext2", 0.81},
               {"ppl/c4", 12.5}};
  r.timings = {{"load", 1.5}, {"quantize", 612.25}, {"eval/wikitext2", 30}, {"total", 650}};
  // name, block, weight_err, output_err, bits_per_weight, seconds, extra
  r.layers = {{"model.layers.0.self_attn.q_proj", 0, 0.031, 0.042, 1.625, 2.5,
               {{"relocations", 17}, {"damp", 0.01}}},
              {"model.layers.1.mlp.down_proj", 1, 0.05, -1, 1.75, 4,
               {{"relocations", 3}}}};   // no "damp": absent, not zero
  r.series = {{"act_bits", {4, 4, 8, 4}}, {"loss/block0", {1.0, 0.5, 0.25}}, {"empty", {}}};
  r.status = "done";
  return r;
}

}  // namespace twla::test
