// eval/loglik.cpp: see loglik.h. Exactness rests on two facts of causal attention: right padding
// never changes the outputs at earlier positions, and a row that continues a KvCache at
// position P sees exactly what it would see in one full-sequence forward.
#include "eval/loglik.h"

#include <algorithm>
#include <map>

#include "core/error.h"
#include "core/progress.h"

namespace twla {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

int64_t window_of(const Model& m, int64_t max_length) {
  const int64_t w = max_length > 0 ? max_length : m.config().max_position_embeddings;
  TWLA_CHECK(w >= 2, "eval max_length=", w, " is too small; use the model's context window");
  return w;
}

struct Row {
  std::vector<int32_t> inp;    // (context + continuation) cut to the window, without its last token
  std::vector<int32_t> cont;   // the scored targets: the last cont.size() tokens of the sequence
  size_t req = 0, group = 0;
  bool truncated = false;
  int64_t first() const { return int64_t(inp.size() - cont.size()); }   // first scored position
};

Row make_row(const LlRequest& r, size_t index, int64_t window) {
  TWLA_CHECK(!r.context.empty() && !r.continuation.empty(), "loglikelihood request ", index,
             " has an empty context or continuation; build requests with encode_pair()");
  std::vector<int32_t> full = r.context;
  full.insert(full.end(), r.continuation.begin(), r.continuation.end());
  const size_t start = full.size() > size_t(window) + 1 ? full.size() - size_t(window) - 1 : 0;
  Row row;
  row.inp.assign(full.begin() + int64_t(start), full.end() - 1);
  // A continuation longer than the window (lm-eval asserts) keeps its last `window` tokens.
  const size_t c = std::min(r.continuation.size(), size_t(window));
  row.cont.assign(r.continuation.end() - int64_t(c), r.continuation.end());
  row.truncated = c < r.continuation.size();
  row.req = index;
  return row;
}

struct Group {
  std::vector<size_t> rows;
  int64_t prefix = 0;   // tokens every row shares, ending before any row's first scored position
};

// Group prefixes, right-padded to the longest in the batch: positions past a group's own prefix
// are junk that nothing reads (causal attention; the suffix rows take only their first P keys).
struct PrefixBatch {
  Tensor ids, h;   // [G, Pmax] int64, [G, Pmax, hidden]
  Tensor k, v;     // this block's keys/values [G, kvh, Pmax, hd], while the block runs
};

// Rows that continue prefixes of length P (their group's prefix may be longer: those tokens are
// re-run as part of the suffix), right-padded to S. Rows are ordered by their prefix batch so
// the KV gather is one index_select per source batch.
struct SuffixBatch {
  std::vector<size_t> rows;
  int64_t P = 0, S = 0;
  Tensor ids, h;                                          // [R, S] int64, [R, S, hidden]
  std::vector<std::pair<size_t, Tensor>> sources;         // prefix batch, [n] indices into it
};

Tensor ids_tensor(const std::vector<const int32_t*>& starts, const std::vector<int64_t>& lens,
                  int64_t T) {
  const int64_t n = int64_t(starts.size());
  Tensor t = at::zeros({n, T}, at::kLong);
  auto* p = t.data_ptr<int64_t>();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < lens[size_t(i)]; ++j) p[i * T + j] = starts[size_t(i)][j];
  return t;
}

// The batches of one chunk of groups. slot[g] = (prefix batch, index) of group g.
struct Chunk {
  std::vector<PrefixBatch> pre;
  std::vector<SuffixBatch> suf;
};

Chunk make_chunk(const std::vector<Row>& rows, const std::vector<Group>& groups,
                 const std::vector<size_t>& gs, size_t per) {
  Chunk c;
  std::map<size_t, std::pair<size_t, int64_t>> slot;
  std::vector<size_t> with_prefix;
  for (size_t g : gs)
    if (groups[g].prefix > 0) with_prefix.push_back(g);   // gs is sorted by prefix, longest first
  for (size_t s = 0; s < with_prefix.size(); s += per) {
    const size_t e = std::min(with_prefix.size(), s + per);
    std::vector<const int32_t*> starts;
    std::vector<int64_t> lens;
    for (size_t i = s; i < e; ++i) {
      const Group& g = groups[with_prefix[i]];
      slot[with_prefix[i]] = {c.pre.size(), int64_t(i - s)};
      starts.push_back(rows[g.rows[0]].inp.data());
      lens.push_back(g.prefix);
    }
    PrefixBatch b;
    b.ids = ids_tensor(starts, lens, lens.front());
    c.pre.push_back(std::move(b));
  }
  std::vector<size_t> order;
  for (size_t g : gs) order.insert(order.end(), groups[g].rows.begin(), groups[g].rows.end());
  auto prefix_of = [&](size_t r) { return groups[rows[r].group].prefix; };
  // Buckets of 4 prefix lengths: a row re-runs < 4 of its group's prefix tokens, and within a
  // bucket rows sort by suffix length, so batches pad little (measured best of 1, 4, 8, 16, inf).
  auto bucket = [&](size_t r) { return prefix_of(r) == 0 ? -1 : prefix_of(r) / 4; };
  auto suffix = [&](size_t r) { return int64_t(rows[r].inp.size()) - prefix_of(r); };
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (bucket(a) != bucket(b)) return bucket(a) > bucket(b);
    if (suffix(a) != suffix(b)) return suffix(a) > suffix(b);
    return prefix_of(a) > prefix_of(b);
  });
  for (size_t s = 0; s < order.size(); s += per) {
    SuffixBatch b;
    b.rows.assign(order.begin() + int64_t(s), order.begin() + int64_t(std::min(order.size(), s + per)));
    b.P = prefix_of(b.rows.front());
    for (size_t r : b.rows) b.P = std::min(b.P, prefix_of(r));
    if (b.P > 0)   // contiguous by source prefix batch
      std::stable_sort(b.rows.begin(), b.rows.end(), [&](size_t x, size_t y) {
        return slot[rows[x].group] < slot[rows[y].group];
      });
    std::vector<const int32_t*> starts;
    std::vector<int64_t> lens, idx;
    for (size_t k = 0; k < b.rows.size(); ++k) {
      const Row& r = rows[b.rows[k]];
      starts.push_back(r.inp.data() + b.P);
      lens.push_back(int64_t(r.inp.size()) - b.P);
      b.S = std::max(b.S, lens.back());
      if (b.P == 0) continue;
      const auto [pb, i] = slot[r.group];
      if (b.sources.empty() || b.sources.back().first != pb) {
        if (!b.sources.empty()) b.sources.back().second = at::tensor(idx, at::kLong);
        b.sources.push_back({pb, Tensor()});
        idx.clear();
      }
      idx.push_back(i);
    }
    if (!b.sources.empty()) b.sources.back().second = at::tensor(idx, at::kLong);
    b.ids = ids_tensor(starts, lens, b.S);
    c.suf.push_back(std::move(b));
  }
  return c;
}

// Runs a chunk through every block, one block resident at a time.
void forward_chunk(const Model& m, const LinearOps& ops, Chunk& c, Progress& prog) {
  for (auto& b : c.pre) b.h = m.embed(b.ids);
  for (auto& b : c.suf) b.h = m.embed(b.ids);
  for (int i = 0; i < m.n_blocks(); ++i) {
    const Block blk = m.load_block(i);
    for (auto& b : c.pre) {
      KvCache kv;
      b.h = m.block_forward(blk, b.h, ops, 0, &kv);
      b.k = kv.k;
      b.v = kv.v;
      prog.tick();
    }
    for (auto& b : c.suf) {
      if (b.P == 0) {
        b.h = m.block_forward(blk, b.h, ops);
      } else {
        std::vector<Tensor> ks, vs;
        for (const auto& [pb, idx] : b.sources) {
          ks.push_back(c.pre[pb].k.narrow(2, 0, b.P).index_select(0, idx));
          vs.push_back(c.pre[pb].v.narrow(2, 0, b.P).index_select(0, idx));
        }
        KvCache kv;
        kv.k = ks.size() == 1 ? ks[0] : at::cat(ks, 0);   // [R, kvh, P, hd]
        kv.v = vs.size() == 1 ? vs[0] : at::cat(vs, 0);
        b.h = m.block_forward(blk, b.h, ops, b.P, &kv);
      }
      prog.tick();
    }
    for (auto& b : c.pre) b.k = b.v = Tensor();
  }
  c.pre.clear();
}

// Log-probs of the scored tokens of every row of a batch, from its final hidden states.
void score_batch(const Model& m, const std::vector<Row>& rows, SuffixBatch& b,
                 std::vector<LlResult>& out) {
  const int64_t hidden = b.h.size(2);
  std::vector<int64_t> pos, tgt;
  for (size_t k = 0; k < b.rows.size(); ++k) {
    const Row& r = rows[b.rows[k]];
    for (size_t j = 0; j < r.cont.size(); ++j) {
      pos.push_back(int64_t(k) * b.S + r.first() - b.P + int64_t(j));
      tgt.push_back(r.cont[j]);
    }
  }
  Tensor h = b.h.reshape({-1, hidden}).index_select(0, at::tensor(pos, at::kLong));  // [N, hidden]
  b.h = Tensor();
  h = m.norm(h);
  const int64_t N = h.size(0), V = m.head_weight().size(0);
  const int64_t slice = std::max<int64_t>(1, (int64_t(1) << 24) / V);   // logits <= 64 MiB at once
  std::vector<double> lp(static_cast<size_t>(N));
  std::vector<char> greedy(static_cast<size_t>(N));
  for (int64_t s = 0; s < N; s += slice) {
    const int64_t n = std::min(slice, N - s);
    Tensor logp = at::log_softmax(m.logits(h.narrow(0, s, n)), -1);   // [n, V] fp32
    Tensor t = at::tensor(std::vector<int64_t>(tgt.begin() + s, tgt.begin() + s + n), at::kLong);
    Tensor l = logp.gather(1, t.unsqueeze(1)).squeeze(1).to(at::kDouble).contiguous();
    Tensor g = logp.argmax(-1).eq(t).contiguous();
    for (int64_t i = 0; i < n; ++i) {
      lp[size_t(s + i)] = l.data_ptr<double>()[i];
      greedy[size_t(s + i)] = g.data_ptr<bool>()[i];
    }
  }
  size_t at = 0;
  for (size_t k = 0; k < b.rows.size(); ++k) {
    const Row& r = rows[b.rows[k]];
    LlResult res;
    res.is_greedy = true;
    res.truncated = r.truncated;
    for (size_t j = 0; j < r.cont.size(); ++j, ++at) {
      res.logprob += lp[at];
      res.is_greedy = res.is_greedy && greedy[at];
    }
    out[r.req] = res;
  }
}

}  // namespace

LlRequest encode_pair(const Tokenizer& tok, const std::string& context,
                      const std::string& continuation, bool add_bos) {
  size_t n = context.size();
  while (n > 0 && is_space(context[n - 1])) --n;
  const std::string ctx = context.substr(0, n), cont = context.substr(n) + continuation;
  LlRequest r;
  if (ctx.empty()) {
    const int id = tok.bos_id() >= 0 ? tok.bos_id() : tok.eos_id();
    TWLA_CHECK(id >= 0, "an empty context needs a BOS or EOS token, and the tokenizer has neither");
    r.context = {id};
    r.continuation = tok.encode(cont);
  } else {
    const auto whole = tok.encode(ctx + cont);
    r.context = tok.encode(ctx);
    if (whole.size() > r.context.size())
      r.continuation.assign(whole.begin() + int64_t(r.context.size()), whole.end());
    if (add_bos && tok.bos_id() >= 0) r.context.insert(r.context.begin(), tok.bos_id());
  }
  TWLA_CHECK(!r.continuation.empty(), "the continuation '", continuation,
             "' tokenizes to nothing after the context '", context.substr(0, 80),
             "'; the task produced an empty answer");
  return r;
}

std::vector<LlResult> loglikelihood(const Model& m, const LinearOps& ops,
                                    const std::vector<LlRequest>& reqs, const LlOptions& o) {
  const int64_t window = window_of(m, o.max_length);
  std::vector<Row> rows;
  rows.reserve(reqs.size());
  for (size_t i = 0; i < reqs.size(); ++i) rows.push_back(make_row(reqs[i], i, window));

  std::vector<Group> groups;   // in first-appearance order
  std::map<int64_t, size_t> by_id;
  for (size_t i = 0; i < rows.size(); ++i) {
    size_t g = groups.size();
    if (reqs[i].group >= 0) g = by_id.emplace(reqs[i].group, groups.size()).first->second;
    if (g == groups.size()) groups.emplace_back();
    groups[g].rows.push_back(i);
    rows[i].group = g;
  }
  for (Group& g : groups) {
    const Row& r0 = rows[g.rows[0]];
    int64_t p = int64_t(r0.inp.size());
    for (size_t r : g.rows) {
      const Row& row = rows[r];
      int64_t k = 0;
      while (k < p && k < int64_t(row.inp.size()) && row.inp[size_t(k)] == r0.inp[size_t(k)]) ++k;
      p = std::min(k, row.first());
    }
    g.prefix = (o.reuse_prefix && g.rows.size() > 1) ? p : 0;
  }
  // Longest prefix first (lm-eval runs longest first too); chunks bound the hidden states held.
  std::vector<size_t> order(groups.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return groups[a].prefix > groups[b].prefix; });
  const size_t per = size_t(std::max(1, o.batch));
  const int64_t hidden = m.config().hidden_size;
  std::vector<std::vector<size_t>> chunks(1);
  int64_t bytes = 0;
  for (size_t g : order) {
    int64_t tokens = groups[g].prefix;
    for (size_t r : groups[g].rows) tokens += int64_t(rows[r].inp.size()) - groups[g].prefix;
    if (!chunks.back().empty() && bytes + tokens * hidden * 8 > o.chunk_bytes) {
      chunks.emplace_back();
      bytes = 0;
    }
    bytes += tokens * hidden * 8;   // x2: padding and the block's temporaries
    chunks.back().push_back(g);
  }
  int64_t ticks = 0;
  for (const auto& gs : chunks) {
    size_t with_prefix = 0;
    for (size_t g : gs) with_prefix += groups[g].prefix > 0;
    size_t n_rows = 0;
    for (size_t g : gs) n_rows += groups[g].rows.size();
    ticks += int64_t((with_prefix + per - 1) / per + (n_rows + per - 1) / per) * m.n_blocks();
  }

  std::vector<LlResult> out(reqs.size());
  Progress prog(o.label, ticks, "block-batches");
  for (const auto& gs : chunks) {
    if (gs.empty()) continue;
    Chunk c = make_chunk(rows, groups, gs, per);
    forward_chunk(m, ops, c, prog);
    for (auto& b : c.suf) score_batch(m, rows, b, out);
  }
  prog.finish();
  return out;
}

LlResult loglikelihood_reference(const Model& m, const LinearOps& ops, const LlRequest& r,
                                 int64_t max_length) {
  const Row row = make_row(r, 0, window_of(m, max_length));
  std::vector<int64_t> ids(row.inp.begin(), row.inp.end());
  Tensor logits = m.forward(at::tensor(ids, at::kLong).view({1, -1}), &ops)[0];   // [L, V]
  Tensor lp = at::log_softmax(logits.to(at::kDouble), -1);
  LlResult res;
  res.is_greedy = true;
  res.truncated = row.truncated;
  for (size_t j = 0; j < row.cont.size(); ++j) {
    const int64_t t = row.first() + int64_t(j);
    res.logprob += lp[t][row.cont[j]].item<double>();
    res.is_greedy = res.is_greedy && lp[t].argmax().item<int64_t>() == row.cont[j];
  }
  return res;
}

}  // namespace twla
