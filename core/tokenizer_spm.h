// core/tokenizer_spm.h: SentencePiece models (Llama-2, stories260K's tok512) through
// libsentencepiece. Not here: the C ABI module itself (core/spm_shim/), the folder logic
// (tokenizer.cpp). Source: google/sentencepiece; the ids are exactly libsentencepiece's Encode().
#pragma once
#include <memory>
#include <string>

#include "core/tokenizer.h"

namespace twla {

// Loads a SentencePiece model file; bos/eos from the model, add_bos true when it has a BOS.
// Throws Error naming the file when it is not a model, or naming the shim when that is missing.
std::unique_ptr<Tokenizer> load_sentencepiece(const std::string& model_path);

// The libtwla_spm.so that load_sentencepiece opens (dlopen'ed on first use); throws Error with the
// places tried and the fix when none loads.
std::string sentencepiece_shim_path();

}  // namespace twla
