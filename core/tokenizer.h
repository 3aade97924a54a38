// core/tokenizer.h: text <-> token ids for the models we evaluate, behind one interface, and
// load_tokenizer(), which picks the implementation from the files of a model folder.
// Not here: the implementations (tokenizer_spm.cpp: SentencePiece through a dlopen'ed shim;
// tokenizer_bpe.cpp: byte-level BPE for HF tokenizer.json, vocab.json+merges.txt and Llama-3's
// tiktoken tokenizer.model). Source: HF tokenizers / tiktoken / sentencepiece semantics.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace twla {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  // No BOS/EOS and no special-token parsing: "<s>" in the text is plain text.
  virtual std::vector<int32_t> encode(const std::string& text) const = 0;
  // The bytes of the ids' tokens (specials as their text); may end inside a UTF-8 sequence
  // when the ids do. Throws Error for an id outside [0, vocab_size()).
  virtual std::string decode(const std::vector<int32_t>& ids) const = 0;
  virtual int vocab_size() const = 0;        // ids are in [0, vocab_size()), specials included
  virtual std::string kind() const = 0;      // "sentencepiece", "bpe", "tiktoken"
  int bos_id() const { return bos_; }        // -1 if none
  int eos_id() const { return eos_; }        // -1 if none
  bool add_bos() const { return add_bos_; }
  // encode() with BOS prepended when add_bos(): what the model sees.
  std::vector<int32_t> encode_for_model(const std::string& text) const;
  // The id of a token given by its text as the model files spell it ("<|im_end|>", "</s>",
  // "\u0120the" for byte-level BPE); -1 if there is none.
  virtual int token_to_id(const std::string& token) const { return -1; }

 protected:
  int bos_ = -1, eos_ = -1;
  bool add_bos_ = false;
  friend void apply_tokenizer_config(Tokenizer&, const std::string&);
};

// `path` is a model folder or one tokenizer file. In a folder, the first that exists wins:
//   tokenizer.model  SentencePiece protobuf or tiktoken text (told apart by content)
//   tokenizer.json   HF byte-level BPE
//   vocab.json + merges.txt  GPT-2 style byte-level BPE (Qwen2 rules when tokenizer_config.json
//                    says tokenizer_class Qwen2Tokenizer)
// A tokenizer_config.json next to the file(s) overrides bos/eos/add_bos when it sets them.
// Missing or corrupt files throw Error naming the file.
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path);

// Applies bos_token / eos_token / add_bos_token of a tokenizer_config.json file (internal to
// load_tokenizer; public so the implementations can be tested one by one).
void apply_tokenizer_config(Tokenizer& t, const std::string& config_path);

}  // namespace twla
