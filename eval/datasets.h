// eval/datasets.h: the text behind every perplexity dataset and calibration set, read from the
// data dir exactly as GPTQ/the TWLA reference build it (ALGORITHMS.md section 6).
//   wikitext2   data/wikitext2/wiki.test.raw: HF rows (blank lines -> ""), joined with "\n\n"
//   c4          data/c4/c4_validation_2k.jsonl: documents [0, 1100) are evaluation text, joined
//               with " " as GPTQ does; documents [1100, 2000) are the calibration pool. NOT
//               GPTQ's C4 shard (see docs/DATA.md), so C4 numbers are not comparable to papers.
//   tinystories data/tinystories/tinystories_valid_sample.txt, the whole file as is
//   text:PATH   any UTF-8 file, as is
// Not here: tokenization and windows (perplexity.h), zero-shot tasks (issue 7).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace twla {

class Tokenizer;

struct PplDataset {
  std::string name;       // "wikitext2", "c4", "tinystories", "text:/path"
  std::string text;       // the evaluation text, joined
  std::string file;       // the file it came from (for sha256 provenance)
  int64_t max_windows = -1;  // GPTQ evaluates C4 on its first 256 windows; -1 = all
};

// Known names: wikitext2, c4, tinystories, text:PATH. Error with the nearest name otherwise.
PplDataset load_ppl_dataset(const std::string& name);
std::vector<std::string> ppl_dataset_names();
bool is_ppl_dataset(const std::string& name);

// Calibration documents of a dataset ("c4": the calibration pool; "wikitext2": the test text as
// one document — a reproduction switch, since it is the evaluation split; "tinystories",
// "text:PATH": the file as one document). Returns the documents and the file they came from.
std::vector<std::string> calibration_documents(const std::string& dataset, std::string* file);

// GPTQ-style calibration segments: nsamples windows of seqlen tokens, each a random crop of a
// random document with more than seqlen tokens (one long document: random crops of it). Seeded.
// Returns [nsamples * seqlen] ids row-major.
std::vector<int32_t> sample_calibration(const Tokenizer& tok, const std::string& dataset,
                                        int nsamples, int seqlen, uint64_t seed);

}  // namespace twla
