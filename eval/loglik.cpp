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
  size_t req = 0;
  int64_t first() const { return int64_t(inp.size() - cont.size()); }   // first scored position
};

Row make_row(const LlRequest& r, size_t index, int64_t window) {
  TWLA_CHECK(!r.context.empty() && !r.continuation.empty(), "loglikelihood request ", index,
             " has an empty context or continuation; build requests with encode_pair()");
  TWLA_CHECK(int64_t(r.continuation.size()) <= window, "loglikelihood request ", index, ": the ",
             "continuation has ", r.continuation.size(), " tokens, more than the model window ",
             window, "; it cannot be scored");
  std::vector<int32_t> full = r.context;
  full.insert(full.end(), r.continuation.begin(), r.continuation.end());
  const size_t start = full.size() > size_t(window) + 1 ? full.size() - size_t(window) - 1 : 0;
  Row row;
  row.inp.assign(full.begin() + int64_t(start), full.end() - 1);
  row.cont = r.continuation;
  row.req = index;
  return row;
}

struct Group {
  std::vector<size_t> rows;
  int64_t prefix = 0, longest = 0;
};

struct Batch {
  std::vector<size_t> rows;
  int64_t P = 0, S = 0;
  Tensor prefix_ids, suffix_ids, row_group;   // [G, P], [R, S] int64, [R] int64
  Tensor hp, hs;                              // hidden states [G, P, hidden], [R, S, hidden]
};

Tensor ids_tensor(const std::vector<const int32_t*>& starts, int64_t n, int64_t T,
                  const std::vector<int64_t>& lens) {
  Tensor t = at::zeros({n, T}, at::kLong);
  auto* p = t.data_ptr<int64_t>();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < lens[size_t(i)]; ++j) p[i * T + j] = starts[size_t(i)][j];
  return t;
}

Batch make_batch(const std::vector<Row>& rows, const std::vector<Group>& groups,
                 const std::vector<size_t>& gs) {
  Batch b;
  b.P = groups[gs.back()].prefix;
  for (size_t g : gs) b.P = std::min(b.P, groups[g].prefix);
  std::vector<const int32_t*> pre, suf;
  std::vector<int64_t> pre_len, suf_len, row_group;
  for (size_t k = 0; k < gs.size(); ++k) {
    const Group& g = groups[gs[k]];
    pre.push_back(rows[g.rows[0]].inp.data());
    pre_len.push_back(b.P);
    for (size_t r : g.rows) {
      b.rows.push_back(r);
      suf.push_back(rows[r].inp.data() + b.P);
      suf_len.push_back(int64_t(rows[r].inp.size()) - b.P);
      b.S = std::max(b.S, suf_len.back());
      row_group.push_back(int64_t(k));
    }
  }
  if (b.P > 0) b.prefix_ids = ids_tensor(pre, int64_t(gs.size()), b.P, pre_len);
  b.suffix_ids = ids_tensor(suf, int64_t(b.rows.size()), b.S, suf_len);
  b.row_group = at::tensor(row_group, at::kLong);
  return b;
}

// Runs a chunk of batches through every block, one block resident at a time.
void forward_chunk(const Model& m, const LinearOps& ops, std::vector<Batch*>& chunk, Progress& prog) {
  for (Batch* b : chunk) {
    if (b->P > 0) b->hp = m.embed(b->prefix_ids);
    b->hs = m.embed(b->suffix_ids);
  }
  for (int i = 0; i < m.n_blocks(); ++i) {
    const Block blk = m.load_block(i);
    for (Batch* b : chunk) {
      if (b->P > 0) {
        KvCache kv;
        b->hp = m.block_forward(blk, b->hp, ops, 0, &kv);
        kv.k = kv.k.index_select(0, b->row_group);   // [R, kvh, P, hd]: each row's group prefix
        kv.v = kv.v.index_select(0, b->row_group);
        b->hs = m.block_forward(blk, b->hs, ops, b->P, &kv);
      } else {
        b->hs = m.block_forward(blk, b->hs, ops);
      }
      prog.tick();
    }
  }
}

// Log-probs of the scored tokens of every row of a batch, from its final hidden states.
void score_batch(const Model& m, const std::vector<Row>& rows, Batch& b,
                 std::vector<LlResult>& out) {
  const int64_t hidden = b.hs.size(2);
  std::vector<int64_t> pos, tgt;
  for (size_t k = 0; k < b.rows.size(); ++k) {
    const Row& r = rows[b.rows[k]];
    for (size_t j = 0; j < r.cont.size(); ++j) {
      pos.push_back(int64_t(k) * b.S + r.first() - b.P + int64_t(j));
      tgt.push_back(r.cont[j]);
    }
  }
  Tensor h = b.hs.reshape({-1, hidden}).index_select(0, at::tensor(pos, at::kLong));  // [N, hidden]
  b.hp = Tensor();
  b.hs = Tensor();
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

  // Groups in first-appearance order; the shared prefix stops before any row's first scored
  // position, so no logits are ever needed from the prefix.
  std::vector<Group> groups;
  std::map<int64_t, size_t> by_id;
  for (size_t i = 0; i < rows.size(); ++i) {
    size_t g = groups.size();
    if (reqs[i].group >= 0) {
      auto it = by_id.emplace(reqs[i].group, groups.size()).first;
      g = it->second;
    }
    if (g == groups.size()) groups.emplace_back();
    groups[g].rows.push_back(i);
  }
  for (Group& g : groups) {
    const Row& r0 = rows[g.rows[0]];
    int64_t p = int64_t(r0.inp.size());
    for (size_t r : g.rows) {
      const Row& row = rows[r];
      int64_t k = 0;
      while (k < p && k < int64_t(row.inp.size()) && row.inp[size_t(k)] == r0.inp[size_t(k)]) ++k;
      p = std::min(k, row.first());
      g.longest = std::max(g.longest, int64_t(row.inp.size()));
    }
    g.prefix = (o.reuse_prefix && g.rows.size() > 1) ? p : 0;
  }
  // Longest first (lm-eval's order): similar prefixes batch together, so min(prefix) loses little.
  std::vector<size_t> order(groups.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (groups[a].prefix != groups[b].prefix) return groups[a].prefix > groups[b].prefix;
    return groups[a].longest > groups[b].longest;
  });
  const size_t per = size_t(std::max(1, o.batch));
  std::vector<Batch> batches;
  for (size_t s = 0; s < order.size(); s += per)
    batches.push_back(make_batch(
        rows, groups, std::vector<size_t>(order.begin() + int64_t(s),
                                          order.begin() + int64_t(std::min(order.size(), s + per)))));

  std::vector<LlResult> out(reqs.size());
  Progress prog(o.label, int64_t(batches.size()) * m.n_blocks(), "block-batches");
  const int64_t hidden = m.config().hidden_size;
  for (size_t s = 0; s < batches.size();) {
    std::vector<Batch*> chunk;
    int64_t bytes = 0;
    while (s < batches.size()) {
      const Batch& b = batches[s];
      const int64_t need = (b.prefix_ids.defined() ? b.prefix_ids.numel() : 0) + b.suffix_ids.numel();
      if (!chunk.empty() && bytes + need * hidden * 4 > o.chunk_bytes) break;
      bytes += need * hidden * 4;
      chunk.push_back(&batches[s++]);
    }
    forward_chunk(m, ops, chunk, prog);
    for (Batch* b : chunk) score_batch(m, rows, *b, out);
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
  for (size_t j = 0; j < row.cont.size(); ++j) {
    const int64_t t = row.first() + int64_t(j);
    res.logprob += lp[t][row.cont[j]].item<double>();
    res.is_greedy = res.is_greedy && lp[t].argmax().item<int64_t>() == row.cont[j];
  }
  return res;
}

}  // namespace twla
