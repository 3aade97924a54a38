// core/spm_shim/shim.cpp: a C ABI over libsentencepiece, built as the MODULE libtwla_spm.so.
// Not here: the Tokenizer around it (core/tokenizer_spm.cpp, which dlopens this module).
// Why a separate module: libsentencepiece and libtorch both carry protobuf; in one process the
// symbols interpose and the static initializers crash at load. dlopen'ed with RTLD_DEEPBIND |
// RTLD_LOCAL, this module and its libsentencepiece bind to their own protobuf. Bump kAbi when a
// signature here changes; the loader refuses a stale module.
#include <sentencepiece_processor.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace {
constexpr int kAbi = 1;
using Sp = sentencepiece::SentencePieceProcessor;
Sp* sp(void* h) { return static_cast<Sp*>(h); }
void set_error(char* err, size_t cap, const std::string& msg) {
  if (err && cap) std::snprintf(err, cap, "%s", msg.c_str());
}
}  // namespace

// The module is built with hidden visibility; only these functions are exported.
#define TWLA_SPM_API __attribute__((visibility("default")))

extern "C" {

TWLA_SPM_API int twla_spm_abi() { return kAbi; }

// A processor for the model file, or null with the reason in err.
TWLA_SPM_API void* twla_spm_load(const char* path, char* err, size_t err_cap) {
  try {
    auto* p = new Sp;
    auto st = p->Load(path);
    if (!st.ok()) {
      set_error(err, err_cap, st.ToString());
      delete p;
      return nullptr;
    }
    return p;
  } catch (const std::exception& e) {
    set_error(err, err_cap, e.what());
    return nullptr;
  }
}

TWLA_SPM_API void twla_spm_free(void* h) { delete sp(h); }

TWLA_SPM_API int twla_spm_piece_size(void* h) { return sp(h)->GetPieceSize(); }
TWLA_SPM_API int twla_spm_bos_id(void* h) { return sp(h)->bos_id(); }
TWLA_SPM_API int twla_spm_eos_id(void* h) { return sp(h)->eos_id(); }
TWLA_SPM_API int twla_spm_unk_id(void* h) { return sp(h)->unk_id(); }
TWLA_SPM_API int twla_spm_piece_to_id(void* h, const char* piece, size_t len) {
  std::string p(piece, len);
  int id = sp(h)->PieceToId(p);
  // PieceToId answers unk for an unknown piece; only the unk piece itself maps to unk.
  return (id == sp(h)->unk_id() && sp(h)->IdToPiece(id) != p) ? -1 : id;
}

// Encodes text; returns the number of ids (written to out only when it is <= cap; call again with
// a larger buffer otherwise), or -1 with the reason in err.
TWLA_SPM_API long twla_spm_encode(void* h, const char* text, size_t len, int32_t* out, size_t cap,
                                  char* err, size_t err_cap) {
  try {
    std::vector<int> ids;
    auto st = sp(h)->Encode(absl::string_view(text, len), &ids);
    if (!st.ok()) {
      set_error(err, err_cap, st.ToString());
      return -1;
    }
    if (ids.size() <= cap)
      for (size_t i = 0; i < ids.size(); ++i) out[i] = ids[i];
    return long(ids.size());
  } catch (const std::exception& e) {
    set_error(err, err_cap, e.what());
    return -1;
  }
}

// Decodes ids; returns the text length (written to out only when it is <= cap), or -1.
TWLA_SPM_API long twla_spm_decode(void* h, const int32_t* ids, size_t n, char* out, size_t cap,
                                  char* err, size_t err_cap) {
  try {
    std::vector<int> v(ids, ids + n);
    std::string text;
    auto st = sp(h)->Decode(v, &text);
    if (!st.ok()) {
      set_error(err, err_cap, st.ToString());
      return -1;
    }
    if (text.size() <= cap) std::memcpy(out, text.data(), text.size());
    return long(text.size());
  } catch (const std::exception& e) {
    set_error(err, err_cap, e.what());
    return -1;
  }
}

}  // extern "C"
