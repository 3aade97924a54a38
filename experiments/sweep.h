// experiments/sweep.h: expands a descriptor's `sweep:` block into run trees.
//   sweep:
//     list: [{name: fp16, quantizer: fp}, {quantizer.name: rtn, quantizer.bits: 4}]   # explicit runs
//     grid: {activations.bits: [4, 6, 8], quantizer.name: [gptq, e2m-atq]}            # product
//     zip:  {calibration.seed: [0, 1], name: [s0, s1]}                                # in step
// Runs = list entries x grid product x zip rows (each part defaults to one empty entry). A run's
// name is `name` if an entry sets it, else the base name plus the swept values.
#pragma once
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace twla {

struct SweepRun {
  std::string name;
  YAML::Node tree;  // the descriptor tree of this run (overrides applied)
};

std::vector<SweepRun> expand_sweep(const YAML::Node& base, const YAML::Node& sweep);

}  // namespace twla
