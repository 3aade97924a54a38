// allocators/ila_amp_measure.cpp: see ila_amp_measure.h. The cached path runs exactly the block
// forwards the naive path runs (same chunks of `batch` windows, same ops per block), only fewer of
// them and in another order (a group's evaluations block by block), so the two give bit-identical
// NLLs; tests/allocators checks that on stories260K.
#include "allocators/ila_amp_measure.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "core/error.h"
#include "core/progress.h"
#include "eval/perplexity.h"

namespace twla {

std::vector<IlaAmpJob> ila_amp_jobs(int L, const std::vector<int>& abits, int baseline) {
  const int B = int(abits.size());
  std::vector<IlaAmpJob> jobs;
  IlaAmpJob base;
  base.bits.assign(size_t(L), baseline);
  base.start = L;
  jobs.push_back(base);
  for (int i = 0; i < L; ++i)
    for (int kb = 0; kb < B; ++kb) {
      if (abits[size_t(kb)] == baseline) continue;
      IlaAmpJob j = base;
      j.kind = IlaAmpJob::kSingle;
      j.block = i, j.kb = kb, j.start = i;
      j.bits[size_t(i)] = abits[size_t(kb)];
      jobs.push_back(j);
    }
  for (int i = 1; i < L; ++i)
    for (int kbp = 0; kbp < B; ++kbp)
      for (int kb = 0; kb < B; ++kb) {
        if (abits[size_t(kbp)] == baseline || abits[size_t(kb)] == baseline) continue;
        IlaAmpJob j = base;
        j.kind = IlaAmpJob::kPair;
        j.block = i, j.kb = kb, j.kbp = kbp, j.start = i - 1;
        j.bits[size_t(i - 1)] = abits[size_t(kbp)];
        j.bits[size_t(i)] = abits[size_t(kb)];
        jobs.push_back(j);
      }
  return jobs;
}

IlaAmpTables ila_amp_tables(int L, const std::vector<int>& abits, int baseline,
                            const std::vector<IlaAmpJob>& jobs, const std::vector<double>& nll) {
  TWLA_ASSERT(jobs.size() == nll.size() && !jobs.empty() && jobs[0].kind == IlaAmpJob::kBase);
  const size_t B = abits.size();
  IlaAmpTables t;
  t.base_nll = nll[0];
  t.delta1.assign(size_t(L), std::vector<double>(B, 0.0));
  std::vector<std::vector<double>> single(size_t(L), std::vector<double>(B, t.base_nll));
  for (size_t j = 0; j < jobs.size(); ++j)
    if (jobs[j].kind == IlaAmpJob::kSingle) {
      single[size_t(jobs[j].block)][size_t(jobs[j].kb)] = nll[j];
      t.delta1[size_t(jobs[j].block)][size_t(jobs[j].kb)] = nll[j] - t.base_nll;
    }
  // Baseline rows/columns of the pair table, as scripts/ILA_AMP.py fills them.
  t.pair_nll.assign(size_t(std::max(L - 1, 0)), Table2(B, std::vector<double>(B, t.base_nll)));
  for (int i = 1; i < L; ++i)
    for (size_t bp = 0; bp < B; ++bp)
      for (size_t b = 0; b < B; ++b) {
        double& p = t.pair_nll[size_t(i - 1)][bp][b];
        const bool base_p = abits[bp] == baseline, base_b = abits[b] == baseline;
        if (base_p && !base_b) p = single[size_t(i)][b];
        else if (!base_p && base_b) p = single[size_t(i - 1)][bp];
      }
  for (size_t j = 0; j < jobs.size(); ++j)
    if (jobs[j].kind == IlaAmpJob::kPair)
      t.pair_nll[size_t(jobs[j].block - 1)][size_t(jobs[j].kbp)][size_t(jobs[j].kb)] = nll[j];
  return t;
}

namespace {
// One loaded block on h in place, in chunks of `batch` windows: final_hidden's inner loop.
void run_block(const Model& m, const Block& blk, Tensor& h, const LinearOps& ops, int batch) {
  const int64_t n = h.size(0);
  batch = std::max(1, batch);
  for (int64_t s = 0; s < n; s += batch) {
    const int64_t e = std::min(n, s + batch);
    h.narrow(0, s, e - s).copy_(m.block_forward(blk, h.narrow(0, s, e - s), ops));
  }
}

// h: the last block's output, before the final norm.
double nll_of(const NllEvaluator& ev, const Tensor& h) {
  return score_hidden(*ev.model, ev.windows, ev.model->norm(h), nullptr).nll;
}

// fn(0..n-1) on `workers` threads, each (and this one) at one intra-op thread: libtorch/OpenBLAS
// results depend on the intra-op thread count, so every evaluation runs at one, whatever the
// number of workers, and any worker count gives the same numbers. The caller's setting returns.
void run_parallel(size_t n, int workers, const std::function<void(size_t)>& fn) {
  const int before = get_threads();
  set_threads(1);
  std::atomic<size_t> next{0};
  std::exception_ptr err;
  std::mutex mu;
  auto work = [&] {
    set_threads(1);
    for (size_t i; (i = next++) < n;) {
      try {
        fn(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mu);
        if (!err) err = std::current_exception();
        next = n;
      }
    }
  };
  if (workers <= 1) {
    work();
  } else {
    std::vector<std::thread> pool;
    for (int w = 0; w < workers; ++w) pool.emplace_back(work);
    for (auto& t : pool) t.join();
  }
  set_threads(before);
  if (err) std::rethrow_exception(err);
}

// Evaluations sharing block s at b' (the single (s, b') and the pairs (s at b', s+1 at b)).
struct Group {
  int s = 0;
  int single = -1;          // job index, or -1
  std::vector<int> pairs;   // job indices
};
}  // namespace

double full_nll(const NllEvaluator& ev, const std::vector<int>& bits) {
  auto ops = ev.ops(bits);
  Tensor normed = final_hidden(*ev.model, ev.windows, *ops, ev.batch, "ila-amp full");   // norm applied
  return score_hidden(*ev.model, ev.windows, normed, nullptr).nll;
}

std::vector<double> measure_naive(const NllEvaluator& ev, const std::vector<IlaAmpJob>& jobs,
                                  int workers) {
  std::vector<double> nll(jobs.size(), 0.0);
  std::mutex mu;
  Progress prog("ila-amp naive", int64_t(jobs.size()), "evaluations");
  run_parallel(jobs.size(), workers, [&](size_t j) {
    nll[j] = full_nll(ev, jobs[j].bits);
    std::lock_guard<std::mutex> lock(mu);
    prog.tick();
  });
  prog.finish();
  return nll;
}

std::vector<double> measure_cached(const NllEvaluator& ev, const std::vector<IlaAmpJob>& jobs,
                                   int workers) {
  const Model& m = *ev.model;
  const int L = m.n_blocks();
  std::vector<double> nll(jobs.size(), 0.0);
  TWLA_ASSERT(!jobs.empty() && jobs[0].kind == IlaAmpJob::kBase);
  // The baseline pass: the state entering every block.
  std::vector<Tensor> cache(static_cast<size_t>(L));
  run_parallel(1, 1, [&](size_t) {
    auto ops = ev.ops(jobs[0].bits);
    Tensor h = m.embed(ev.windows);
    for (int b = 0; b < L; ++b) {
      cache[size_t(b)] = h.clone();
      run_block(m, m.load_block(b), h, *ops, ev.batch);
    }
    nll[0] = nll_of(ev, h);
  });
  std::map<std::pair<int, int>, Group> by_key;   // (s, candidate of block s)
  for (size_t j = 1; j < jobs.size(); ++j) {
    const auto& job = jobs[j];
    const int kb_s = job.kind == IlaAmpJob::kSingle ? job.kb : job.kbp;
    Group& g = by_key[{job.start, kb_s}];
    g.s = job.start;
    if (job.kind == IlaAmpJob::kSingle) g.single = int(j);
    else g.pairs.push_back(int(j));
  }
  std::vector<Group> groups;
  for (auto& kv : by_key) groups.push_back(kv.second);

  std::mutex mu;
  Progress prog("ila-amp cached", int64_t(jobs.size()) - 1, "evaluations");
  auto run_group = [&](const Group& g) {
    const int first = g.single >= 0 ? g.single : g.pairs.front();
    auto ops_s = ev.ops(jobs[size_t(first)].bits);
    Tensor h1 = cache[size_t(g.s)].clone();
    run_block(m, m.load_block(g.s), h1, *ops_s, ev.batch);   // block s at b': shared by the group
    // The group's evaluations advance together, block by block, so each suffix block is loaded
    // once per group rather than once per evaluation (a large model's blocks come from disk).
    std::vector<int> idx;
    if (g.single >= 0) idx.push_back(g.single);
    idx.insert(idx.end(), g.pairs.begin(), g.pairs.end());
    std::vector<std::unique_ptr<LinearOps>> ops;
    std::vector<Tensor> hs;
    for (int j : idx) {
      ops.push_back(ev.ops(jobs[size_t(j)].bits));
      hs.push_back(h1.clone());
    }
    for (int b = g.s + 1; b < L; ++b) {
      const Block blk = m.load_block(b);
      for (size_t k = 0; k < idx.size(); ++k) run_block(m, blk, hs[k], *ops[k], ev.batch);
    }
    for (size_t k = 0; k < idx.size(); ++k) nll[size_t(idx[k])] = nll_of(ev, hs[k]);
    std::lock_guard<std::mutex> lock(mu);
    prog.tick(int64_t(idx.size()));
  };
  // Groups of early blocks first (the longest), so no worker is left with a long one at the end.
  run_parallel(groups.size(), workers, [&](size_t i) { run_group(groups[i]); });
  prog.finish();
  return nll;
}

}  // namespace twla
