// apps/cmd_pack.cpp: `twla pack`: quantize a descriptor's model (or take its weights from the stage
// cache) and write one packed model folder (experiments/pack.h, docs/PACKED_FORMAT.md).
#include <boost/program_options.hpp>

#include <iostream>

#include "apps/commands.h"
#include "apps/flags.h"
#include "core/strings.h"
#include "experiments/pack.h"
#include "experiments/sweep.h"

namespace po = boost::program_options;

namespace twla::cli {

namespace {
// "1.79x smaller", or "1.95x larger" when the pack is bigger than fp16 (e.g. a tiny model's padding).
std::string size_ratio(int64_t file_bytes, int64_t fp16_bytes) {
  if (file_bytes > fp16_bytes) return fixed(double(file_bytes) / double(fp16_bytes), 2) + "x larger";
  return fixed(double(fp16_bytes) / double(file_bytes), 2) + "x smaller";
}
}  // namespace

int cmd_pack(const Args& a) {
  const char* usage = "twla pack exp.yaml [key.sub=value ...] --out DIR [--cache DIR|off]";
  po::options_description desc("twla pack");
  std::string file;
  std::vector<std::string> overrides;
  PackOptions o;
  desc.add_options()("help,h", "this help")(
      "descriptor", po::value(&file)->required(), "experiment descriptor (YAML)")(
      "set", po::value(&overrides)->multitoken(), "overrides key.sub=value (also positional)")(
      "out,o", po::value(&o.out)->required(), "the packed model folder to write")(
      "cache", po::value(&o.run.cache_dir), "stage cache folder, or off (default $TWLA_CACHE or <output>/.cache)");
  po::positional_options_description pos;
  pos.add("descriptor", 1).add("set", -1);
  po::variables_map vm = parse_flags(a, desc, pos, usage);
  YAML::Node sweep;
  YAML::Node base = load_descriptor_tree(file, overrides, &sweep);
  auto runs = expand_sweep(base, sweep);
  TWLA_CHECK(runs.size() == 1, file, ": its sweep has ", runs.size(),
             " runs; twla pack writes one model: pick one run's values with key=value overrides");
  PackSummary s = pack_model(runs[0].tree, o);
  std::string formats;
  for (const auto& [f, n] : s.formats) formats += (formats.empty() ? "" : ", ") + std::to_string(n) + " " + f;
  std::cout << "packed " << s.dir << ": " << s.file_bytes << " bytes (model.safetensors) vs " << s.fp16_bytes
            << " bytes as fp16 (" << size_ratio(s.file_bytes, s.fp16_bytes) << "); linears: "
            << (formats.empty() ? "none quantized" : formats) << (s.fp_linears ? ", " + std::to_string(s.fp_linears) + " as stored" : "")
            << "\nrun it: twla eval --model " << s.dir << " --tasks wikitext2\n";
  return 0;
}

}  // namespace twla::cli
