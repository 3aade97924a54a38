// core/tokenizer_spm.cpp: the SentencePiece Tokenizer, over libtwla_spm.so opened with dlopen.
// Not here: libsentencepiece calls (core/spm_shim/shim.cpp, which says why this indirection).
// Source: google/sentencepiece. The module is looked up in: $TWLA_SPM_SHIM, the build tree's path
// (TWLA_SPM_SHIM_PATH, set by core/CMakeLists.txt), then next to the running executable.
#include "core/tokenizer_spm.h"

#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <vector>

#include "core/error.h"
#include "core/fs.h"

namespace twla {

namespace {

constexpr int kShimAbi = 1;   // = kAbi in shim.cpp

struct Shim {
  std::string path;
  int (*abi)();
  void* (*load)(const char*, char*, size_t);
  void (*free)(void*);
  int (*piece_size)(void*);
  int (*bos_id)(void*);
  int (*eos_id)(void*);
  int (*unk_id)(void*);
  int (*piece_to_id)(void*, const char*, size_t);
  long (*encode)(void*, const char*, size_t, int32_t*, size_t, char*, size_t);
  long (*decode)(void*, const int32_t*, size_t, char*, size_t, char*, size_t);
};

std::vector<std::string> shim_candidates() {
  std::vector<std::string> c;
  if (const char* env = std::getenv("TWLA_SPM_SHIM"); env && *env) c.push_back(env);
#ifdef TWLA_SPM_SHIM_PATH
  c.push_back(TWLA_SPM_SHIM_PATH);
#endif
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n > 0) {
    buf[n] = 0;
    c.push_back((std::filesystem::path(buf).parent_path() / "libtwla_spm.so").string());
  }
  return c;
}

template <class F>
void bind(void* lib, const char* name, F& f, const std::string& path) {
  f = reinterpret_cast<F>(::dlsym(lib, name));
  TWLA_CHECK(f, "SentencePiece shim ", path, " lacks ", name, "; rebuild it (ninja twla_spm)");
}

Shim open_shim() {
  std::string tried;
  for (const std::string& p : shim_candidates()) {
    if (!file_exists(p)) {
      tried += "\n  " + p + " (missing)";
      continue;
    }
    // DEEPBIND + LOCAL: the module's libsentencepiece binds to its own protobuf, not libtorch's.
    void* lib = ::dlopen(p.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
    if (!lib) {
      const char* e = ::dlerror();
      tried += "\n  " + p + " (" + (e ? e : "dlopen failed") + ")";
      continue;
    }
    Shim s;
    s.path = p;
    bind(lib, "twla_spm_abi", s.abi, p);
    TWLA_CHECK(s.abi() == kShimAbi, "SentencePiece shim ", p, " has ABI ", s.abi(),
               ", twla expects ", kShimAbi, "; rebuild it (ninja twla_spm)");
    bind(lib, "twla_spm_load", s.load, p);
    bind(lib, "twla_spm_free", s.free, p);
    bind(lib, "twla_spm_piece_size", s.piece_size, p);
    bind(lib, "twla_spm_bos_id", s.bos_id, p);
    bind(lib, "twla_spm_eos_id", s.eos_id, p);
    bind(lib, "twla_spm_unk_id", s.unk_id, p);
    bind(lib, "twla_spm_piece_to_id", s.piece_to_id, p);
    bind(lib, "twla_spm_encode", s.encode, p);
    bind(lib, "twla_spm_decode", s.decode, p);
    return s;   // never dlclose'd: processors may live until exit
  }
  TWLA_FAIL(
      "SentencePiece tokenizers need the module libtwla_spm.so, which did not load. Tried:", tried,
      "\nFix: build it (ninja -C <build dir> twla_spm; it is a dependency of twla_core),"
      " or set TWLA_SPM_SHIM=/path/to/libtwla_spm.so");
}

const Shim& shim() {
  static const Shim s =
      open_shim();   // a throw here leaves it uninitialized: the next call retries
  return s;
}

// The shim writes a result only into a buffer that holds it and returns the size it needs: call
// once with the guess already in buf, again sized when the guess was short.
template <class Buf, class Call>
void fill(Buf& buf, const char* what, Call call) {
  size_t n = call();
  if (n > buf.size()) {
    buf.resize(n);
    size_t again = call();
    TWLA_ASSERT(again == n, "SentencePiece ", what, " changed its length between two calls");
  }
  buf.resize(n);
}

class SpmTokenizer : public Tokenizer {
 public:
  explicit SpmTokenizer(const std::string& path) : path_(path) {
    TWLA_CHECK(file_exists(path), "SentencePiece model '", path, "' does not exist");
    char err[1024] = "";
    h_ = shim().load(path.c_str(), err, sizeof err);
    TWLA_CHECK(h_, path, ": not a readable SentencePiece model (", err,
               "); re-download tokenizer.model or point at the right file");
    n_ = shim().piece_size(h_);
    bos_ = shim().bos_id(h_);
    eos_ = shim().eos_id(h_);
    add_bos_ = bos_ >= 0;
  }
  ~SpmTokenizer() override { shim().free(h_); }
  SpmTokenizer(const SpmTokenizer&) = delete;
  SpmTokenizer& operator=(const SpmTokenizer&) = delete;

  std::vector<int32_t> encode(const std::string& text) const override {
    std::vector<int32_t> ids(text.size() + 16);   // usually enough; else a second call, sized
    char err[1024] = "";
    fill(ids, "encode", [&] {
      long n = shim().encode(h_, text.data(), text.size(), ids.data(), ids.size(), err, sizeof err);
      TWLA_CHECK(n >= 0, path_, ": SentencePiece encode failed: ", err);
      return size_t(n);
    });
    return ids;
  }

  std::string decode(const std::vector<int32_t>& ids) const override {
    for (int32_t id : ids)
      TWLA_CHECK(id >= 0 && id < n_, "decode: token id ", id, " is outside [0, ", n_, ") of ", path_);
    std::string out(ids.size() * 8 + 16, '\0');
    char err[1024] = "";
    fill(out, "decode", [&] {
      long n = shim().decode(h_, ids.data(), ids.size(), out.data(), out.size(), err, sizeof err);
      TWLA_CHECK(n >= 0, path_, ": SentencePiece decode failed: ", err);
      return size_t(n);
    });
    return out;
  }

  int vocab_size() const override { return n_; }
  std::string kind() const override { return "sentencepiece"; }
  int token_to_id(const std::string& token) const override {
    return shim().piece_to_id(h_, token.data(), token.size());
  }

 private:
  std::string path_;
  void* h_ = nullptr;
  int n_ = 0;
};

}  // namespace

std::unique_ptr<Tokenizer> load_sentencepiece(const std::string& model_path) {
  return std::make_unique<SpmTokenizer>(model_path);
}

std::string sentencepiece_shim_path() { return shim().path; }

}  // namespace twla
