// eval/datasets.cpp: see datasets.h.
#include "eval/datasets.h"

#include <nlohmann/json.hpp>

#include <random>
#include <sstream>

#include "core/error.h"
#include "core/fs.h"
#include "core/paths.h"
#include "core/strings.h"
#include "core/tokenizer.h"

namespace twla {

namespace {
constexpr int kC4EvalDocs = 1100;      // GPTQ evaluates on the first 1100 documents
constexpr int64_t kC4EvalWindows = 256;

// HF wikitext builder: every line is a row; a blank line is "" and others keep their "\n".
std::string wikitext_joined(const std::string& raw) {
  std::vector<std::string> rows;
  size_t pos = 0;
  while (pos < raw.size()) {
    size_t nl = raw.find('\n', pos);
    size_t end = nl == std::string::npos ? raw.size() : nl + 1;
    std::string line = raw.substr(pos, end - pos);
    rows.push_back(trim(line).empty() ? "" : line);
    pos = end;
  }
  return join(rows, "\n\n");
}

std::vector<std::string> c4_documents(std::string* file) {
  *file = data_file("data/c4/c4_validation_2k.jsonl", "dataset c4");
  std::istringstream in(read_file(*file));
  std::vector<std::string> docs;
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (trim(line).empty()) continue;
    try {
      docs.push_back(nlohmann::json::parse(line).at("text").get<std::string>());
    } catch (const std::exception& e) {
      TWLA_FAIL(*file, ":", lineno, ": field 'text': ", e.what());
    }
  }
  TWLA_CHECK(int(docs.size()) > kC4EvalDocs, *file, " has ", docs.size(), " documents; twla needs more than ",
             kC4EvalDocs, " (evaluation + calibration split)");
  return docs;
}

std::string text_path(const std::string& name) { return expand_path(name.substr(5)); }
}  // namespace

std::vector<std::string> ppl_dataset_names() { return {"wikitext2", "c4", "tinystories", "text:PATH"}; }

bool is_ppl_dataset(const std::string& name) {
  return name == "wikitext2" || name == "c4" || name == "tinystories" || starts_with(name, "text:");
}

PplDataset load_ppl_dataset(const std::string& name) {
  PplDataset d;
  d.name = name;
  if (name == "wikitext2") {
    d.file = data_file("data/wikitext2/wiki.test.raw", "dataset wikitext2");
    d.text = wikitext_joined(read_file(d.file));
  } else if (name == "c4") {
    auto docs = c4_documents(&d.file);
    docs.resize(kC4EvalDocs);
    d.text = join(docs, " ");
    d.max_windows = kC4EvalWindows;
  } else if (name == "tinystories") {
    d.file = data_file("data/tinystories/tinystories_valid_sample.txt", "dataset tinystories");
    d.text = read_file(d.file);
  } else if (starts_with(name, "text:")) {
    d.file = text_path(name);
    TWLA_CHECK(file_exists(d.file), "dataset '", name, "': file '", d.file, "' does not exist");
    d.text = read_file(d.file);
  } else {
    TWLA_FAIL("unknown perplexity dataset '", name, "'",
              did_you_mean(name, {"wikitext2", "c4", "tinystories"}), " (or text:PATH for any file)");
  }
  return d;
}

std::vector<std::string> calibration_documents(const std::string& dataset, std::string* file) {
  if (dataset == "c4") {
    auto docs = c4_documents(file);
    return std::vector<std::string>(docs.begin() + kC4EvalDocs, docs.end());
  }
  PplDataset d = load_ppl_dataset(dataset);
  *file = d.file;
  return {d.text};
}

std::vector<int32_t> sample_calibration(const Tokenizer& tok, const std::string& dataset,
                                        int nsamples, int seqlen, uint64_t seed) {
  TWLA_CHECK(nsamples > 0 && seqlen > 1, "calibration.nsamples=", nsamples, " and calibration.seqlen=",
             seqlen, " must be positive (seqlen >= 2)");
  std::string file;
  auto docs = calibration_documents(dataset, &file);
  std::mt19937_64 rng(seed);
  std::vector<int32_t> out;
  out.reserve(size_t(nsamples) * seqlen);
  if (docs.size() == 1) {
    auto ids = tok.encode_for_model(docs[0]);
    TWLA_CHECK(int64_t(ids.size()) > seqlen, "calibration dataset '", dataset, "' has ", ids.size(),
               " tokens, fewer than calibration.seqlen=", seqlen, "; lower seqlen");
    std::uniform_int_distribution<int64_t> start(0, int64_t(ids.size()) - seqlen - 1);
    for (int s = 0; s < nsamples; ++s) {
      int64_t i = start(rng);
      out.insert(out.end(), ids.begin() + i, ids.begin() + i + seqlen);
    }
    return out;
  }
  std::uniform_int_distribution<size_t> pick(0, docs.size() - 1);
  int tries = 0;
  while (int64_t(out.size()) < int64_t(nsamples) * seqlen) {
    TWLA_CHECK(++tries < 100000, "calibration dataset '", dataset, "' (", file,
               ") has too few documents longer than calibration.seqlen=", seqlen, " tokens; lower seqlen");
    auto ids = tok.encode_for_model(docs[pick(rng)]);
    if (int64_t(ids.size()) <= seqlen) continue;
    std::uniform_int_distribution<int64_t> start(0, int64_t(ids.size()) - seqlen - 1);
    int64_t i = start(rng);
    out.insert(out.end(), ids.begin() + i, ids.begin() + i + seqlen);
  }
  return out;
}

}  // namespace twla
