// experiments/pipeline.cpp: see pipeline.h.
#include "experiments/pipeline.h"

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "allocators/allocator.h"
#include "core/fs.h"
#include "core/model.h"
#include "core/paths.h"
#include "core/tokenizer.h"
#include "eval/datasets.h"
#include "eval/perplexity.h"
#include "eval/wikitext_lmeval.h"
#include "eval/zeroshot.h"
#include "experiments/allocation_cache.h"
#include "experiments/allocation_farm.h"
#include "experiments/allocation_stage.h"
#include "experiments/kernel_ops.h"
#include "experiments/pack.h"
#include "experiments/pipeline_cache.h"
#include "experiments/quant_ops.h"
#include "experiments/rotation_cache.h"
#include "experiments/rotation_stats.h"
#include "experiments/weights.h"
#include "kernels/cuda/device_linear.h"
#include "quantizers/quantizer.h"
#include "results/run_file.h"
#include "rotations/rotation.h"

namespace twla {

namespace {
using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// FP final hidden states per (model, dataset, seqlen, windows), shared by the runs of a sweep in
// one process, so the FP reference of KL is computed once.
struct FpCache {
  std::mutex mu;
  std::map<std::string, Tensor> hidden;
  std::map<std::string, std::vector<int32_t>> ids;
};
FpCache& fp_cache() {
  static FpCache c;
  return c;
}

const std::vector<int32_t>& token_ids(const Tokenizer& tok, const std::string& tok_path,
                                      const PplDataset& ds) {
  auto& c = fp_cache();
  std::string key = tok_path + "|" + ds.name;
  std::lock_guard<std::mutex> lock(c.mu);
  auto it = c.ids.find(key);
  if (it == c.ids.end()) it = c.ids.emplace(key, tok.encode_for_model(ds.text)).first;
  return it->second;
}

std::string git_version() {
  std::string cmd = std::string("git -C '") + TWLA_SOURCE_DIR +
                    "' describe --always --dirty --abbrev=12 2>/dev/null";
  std::string out;
  if (FILE* p = ::popen(cmd.c_str(), "r")) {
    char buf[128];
    while (std::fgets(buf, sizeof buf, p)) out += buf;
    ::pclose(p);
  }
  out = trim(out);
  return out.empty() ? std::string(TWLA_GIT_HASH) : out;
}

void log(const RunOptions& o, const std::string& name, const std::string& msg) {
  if (!o.quiet) std::cerr << "[" << name << "] " << msg << "\n";
}
}  // namespace

std::string run_dir_of(const Descriptor& d) { return expand_path(d.output) + "/" + d.name; }

RunRecord run_experiment(const YAML::Node& tree_in, const RunOptions& opt) {
  auto t_start = Clock::now();
  PackedModelInfo pack;   // a packed model (model.path): its quantization replaces the tree's
  const YAML::Node tree = adopt_packed_model(tree_in, &pack);
  const bool packed = !pack.file.empty();
  YAML::Node resolved;
  Descriptor d = parse_descriptor(tree, &resolved);
  const std::string id = run_id(resolved);
  const std::string dir = run_dir_of(d);
  const std::string h5 = dir + "/results.h5";
  const bool shard_only = opt.alloc_shard >= 0;
  if (shard_only) {
    TWLA_CHECK(d.activations.allocator.name == "ila-amp" && !packed, "twla allocate --shard: run '",
               d.name, "' has activations.allocator ", d.activations.allocator.name,
               packed ? " on a packed model" : "",
               "; only ila-amp on a Hugging Face model measures evaluations that can be farmed out");
    TWLA_CHECK(opt.alloc_shard < opt.alloc_shards, "--shard ", opt.alloc_shard + 1, "/", opt.alloc_shards,
               ": k must be in 1..", opt.alloc_shards);
    const int asked = allocation_shards(resolved);
    TWLA_CHECK(asked == 0 || asked == opt.alloc_shards, "--shard ", opt.alloc_shard + 1, "/", opt.alloc_shards,
               ": the descriptor splits the evaluations into activations.allocator.shards=", asked,
               "; use --shard k/", asked);
    // Measured already for this run id (a requeued or resubmitted task): nothing to do.
    const std::string f = shard_file(dir, opt.alloc_shard + 1, opt.alloc_shards);
    bool have = false;
    try {
      have = !opt.force && file_exists(f) && read_shard(f).key == allocation_key(resolved);
    } catch (const Error&) {   // unreadable: measure it again
    }
    if (have) {
      log(opt, d.name, "allocation shard measured already (" + f + "); --force measures it again");
      RunRecord r;
      r.run_id = id, r.name = d.name, r.status = "shard";
      return r;
    }
  }
  if (!shard_only && !opt.force && file_exists(h5)) {
    RunRecord old = read_run(h5);
    if (old.run_id == id && old.status == "done") {
      log(opt, d.name, "done already (" + h5 + ", run id " + id + "); --force recomputes");
      return old;
    }
  }
  make_dirs(dir);
  if (!shard_only) std::filesystem::remove(dir + "/DONE");
  if (d.threads > 0) set_threads(d.threads);
  const StageCache cache(default_cache_dir(d.output, opt.cache_dir));

  RunRecord rec;
  rec.run_id = id;
  rec.name = d.name;
  rec.descriptor_yaml = yaml_text(resolved);
  rec.config_flat = flatten_yaml(resolved);
  rec.git = git_version();
  rec.status = "done";

  auto t = Clock::now();
  const std::string model_dir = expand_path(d.model.path);
  TWLA_CHECK(dir_exists(model_dir), "model.path '", model_dir,
             "' is not a directory; give a Hugging Face folder with config.json and safetensors");
  Model model(model_dir, packed ? packed_hf_names(pack) : std::set<std::string>{});
  const std::string tok_path = d.model.tokenizer.empty() ? model_dir : expand_path(d.model.tokenizer);
  auto tok = load_tokenizer(tok_path);
  for (const auto& f : model.source().files())
    rec.input_sha256["model/" + std::filesystem::path(f).filename().string()] = sha256_file(f);
  rec.timings["load"] = since(t);

  auto quant = quantizers().make(d.quantizer, "quantizer");
  auto rot = rotations().make(d.rotation, "rotation");
  auto alloc = allocators().make(d.activations.allocator, "activations.allocator");
  alloc->check(model.n_blocks(), d.activations.bits);   // before the weights take their time
  if (d.backend == "kernel-cuda" && !shard_only) {   // likewise: no GPU is known before quantizing
    const std::string why = kernels::cuda::device_status();
    TWLA_CHECK(why.empty(), "backend kernel-cuda: ", why);
  }
  rec.labels = {{"model", std::filesystem::path(model_dir).filename().string()},
                {"method", d.quantizer.name},
                {"wbits", quant->nominal_bits()},
                {"abits", fixed(d.activations.bits, d.activations.bits == int(d.activations.bits) ? 0 : 2)},
                {"rotation", d.rotation.name},
                {"allocator", d.activations.allocator.name}};

  // Weights: rotation fused, then quantized, block by block.
  t = Clock::now();
  WeightsContext wc{d, *tok, *quant, *rot, opt.quiet};
  const YAML::Node wdeps = weights_deps(resolved, rec.input_sha256, quant->needs_calibration());
  const std::string wkey = StageCache::key(wdeps);
  bool hit = false;
  if (packed) {
    const int n = load_packed_weights(pack, model, *rot);
    log(opt, d.name, "weights: " + std::to_string(n) + " packed linears from " + pack.file +
                         " (quantizer, rotation, activations from its descriptor)");
  } else if (shard_only) {   // ILA-AMP measures on the rotated FP model: the rotation, no quantizer
    hit = cached_prepare_rotation(model, *rot, cache, rotation_deps(resolved, rec.input_sha256));
    log(opt, d.name, std::string("rotation only, weights not quantized") +
                         (hit ? "; rotation from the stage cache" : ""));
  } else {
    bool rot_hit = false;
    rec.layers = cached_rotate_and_quantize(model, wc, dir, cache, wdeps, rotation_deps(resolved, rec.input_sha256),
                                            &hit, &rot_hit);
    if (rot_hit) log(opt, d.name, "rotation: from the stage cache (not trained again)");
  }
  rec.timings[shard_only ? "rotation" : "quantize"] = since(t);
  if (hit && !shard_only) log(opt, d.name, "weights: from the stage cache (" + wkey.substr(0, 12) + ")");
  // What the rotation learned or chose, and what it did to each linear's weight distribution (a
  // packed model has no unrotated weights to compare with: its quantization run recorded them).
  if (!packed && !shard_only)
    record_rotation_stats(model, *rot, rec, [&](const std::string& m) { log(opt, d.name, m); });

  t = Clock::now();
  std::unique_ptr<Model> fp_model;   // ILA-AMP measures on the rotated FP model
  auto say = [&](const std::string& m) { log(opt, d.name, m); };
  AllocationContext actx = allocation_context(d, model, *tok, *rot, fp_model, model_dir, say);
  if (shard_only) actx.q_model = nullptr, actx.q_ops = nullptr;   // never quantized: nothing may read it
  const RunDirFarm farm(dir, allocation_key(resolved), opt.alloc_shard, opt.alloc_shards, say);
  actx.ila_amp_farm = &farm;   // shard results in the run dir are used; missing ones measured
  AllocationRequest req{model.n_blocks(), d.activations.bits, d.activations.clip, &actx};
  AllocationReport arep;
  Allocation allocation;
  const bool cache_alloc = !packed && !shard_only && measuring_allocator(resolved);
  const YAML::Node adeps = cache_alloc ? allocation_deps(wkey, resolved) : YAML::Node();
  if (packed) {
    allocation = pack.allocation;
  } else if (cache_alloc && cache_load_allocation(cache, adeps, &allocation, &arep)) {
    say("allocation: from the stage cache (not measured again)");
  } else {
    allocation = alloc->allocate(req, &arep);
    if (cache_alloc) cache_save_allocation(cache, adeps, allocation, arep);
  }
  fp_model.reset();
  if (shard_only) {   // twla allocate --shard: the shard file is the result
    rec.status = "shard";
    rec.timings["allocate"] = since(t);
    return rec;
  }
  record_allocation(allocation, arep, rec, say);
  rec.timings["allocate"] = since(t);
  QuantLinearOps ops(rot.get(), allocation, d.activations.clip, d.compat == "reference");
  const bool quantized = d.quantizer.name != "fp" || !ops.is_identity();
  std::unique_ptr<KernelLinearOps> kernel_ops;
  if (d.backend == "kernel" || d.backend == "kernel-cuda") {
    kernel_ops = std::make_unique<KernelLinearOps>(
        model, rot.get(), allocation, d.activations.clip, d.compat == "reference", get_threads(),
        d.backend == "kernel-cuda" ? KernelDevice::kCuda : KernelDevice::kCpu);
    const auto fb = kernel_ops->fallback_linears();
    log(opt, d.name, "backend " + d.backend + ": " + kernel_ops->summary() + " (" + std::to_string(kernel_ops->packed_bytes()) +
                         " bytes packed)" +
                         (fb.empty() ? "" : "; dequantized: no kernel for their format, e.g. " + fb.front()));
    rec.labels["backend"] = d.backend + ": " + kernel_ops->summary();
  }
  // KL's FP reference: a packed model's source folder, when it is still there.
  std::string fp_dir = model_dir;
  if (packed) fp_dir = dir_exists(pack.source_model) && !is_packed_model(pack.source_model) ? pack.source_model : "";
  if (packed && d.eval.kl && fp_dir.empty())
    log(opt, d.name, "no KL: the packed model's source folder '" + pack.source_model + "' is not here");
  const LinearOps& run_ops = kernel_ops ? static_cast<const LinearOps&>(*kernel_ops) : ops;

  for (const auto& task : d.eval.tasks) {
    if (task == kWikitextLmeval) {
      t = Clock::now();
      PplDataset ds = load_ppl_dataset("wikitext2");
      rec.input_sha256["data/" + task] = sha256_file(ds.file);
      LlOptions lo;
      lo.batch = d.eval.zeroshot_batch;
      lo.max_length = d.eval.lmeval_max_length;
      lo.label = task;
      WikitextLmevalResult r = wikitext_lmeval(model, run_ops, *tok, read_file(ds.file), lo, d.eval.limit);
      rec.metrics["word_ppl/" + task] = r.word_perplexity;
      rec.metrics["byte_ppl/" + task] = r.byte_perplexity;
      rec.metrics["bits_per_byte/" + task] = r.bits_per_byte;
      rec.timings["eval/" + task] = since(t);
      log(opt, d.name, task + ": word ppl " + fixed(r.word_perplexity, 3) + ", byte ppl " +
                           fixed(r.byte_perplexity, 4) + " over " + std::to_string(r.docs) +
                           " documents (" + std::to_string(r.windows) + " windows)");
      continue;
    }
    if (is_zeroshot_task(task)) {
      t = Clock::now();
      const bool cacheable = d.eval.dump_requests.empty();  // a dump is a side effect to redo
      const YAML::Node edeps = eval_deps(wkey, resolved, task, true, data_dir() + "|" + task);
      std::map<std::string, double> cached;
      if (cacheable && cache_load_metrics(cache, edeps, &cached)) {
        rec.metrics.insert(cached.begin(), cached.end());
        log(opt, d.name, task + ": from the stage cache");
        continue;
      }
      ZeroShotOptions zo;
      zo.limit = d.eval.limit;
      zo.subsample = d.eval.subsample;
      zo.seed = uint64_t(d.eval.subsample_seed);
      zo.batch = d.eval.zeroshot_batch;
      zo.bos = d.eval.bos;
      zo.dump_requests = expand_path(d.eval.dump_requests);
      TaskMetrics tm = run_zeroshot(model, run_ops, *tok, task, zo);
      std::map<std::string, double> m;
      for (const auto& [k, v] : tm.values) m[k + "/" + task] = v;
      rec.metrics.insert(m.begin(), m.end());
      if (cacheable) cache_save_metrics(cache, edeps, m);
      rec.timings["eval/" + task] = since(t);
      log(opt, d.name, task + ": acc " + fixed(tm.values.count("acc") ? tm.values.at("acc") : -1, 4) +
                           " over " + std::to_string(tm.n_docs) + " documents");
      continue;
    }
    std::vector<std::string> known = ppl_dataset_names();
    known.push_back(kWikitextLmeval);
    for (const auto& z : zeroshot_task_names()) known.push_back(z);
    TWLA_CHECK(is_ppl_dataset(task), "eval.tasks: unknown task '", task, "'", did_you_mean(task, known));
    t = Clock::now();
    PplDataset ds = load_ppl_dataset(task);
    rec.input_sha256["data/" + task] = sha256_file(ds.file);
    const YAML::Node edeps = eval_deps(wkey, resolved, task, false, rec.input_sha256["data/" + task]);
    std::map<std::string, double> m;
    if (cache_load_metrics(cache, edeps, &m)) {
      rec.metrics.insert(m.begin(), m.end());
      log(opt, d.name, task + ": from the stage cache");
      continue;
    }
    int64_t maxw = d.eval.max_windows >= 0
                       ? (ds.max_windows >= 0 ? std::min<int64_t>(ds.max_windows, d.eval.max_windows)
                                              : d.eval.max_windows)
                       : ds.max_windows;
    Tensor windows = make_windows(token_ids(*tok, tok_path, ds), d.eval.seqlen, maxw);
    Tensor hidden = final_hidden(model, windows, run_ops, d.eval.batch, "ppl " + task);
    Tensor fp_hidden;
    const YAML::Node fdeps = fp_hidden_deps(resolved, rec.input_sha256, task,
                                            rec.input_sha256["data/" + task], windows.size(0));
    const std::string key = fp_dir + "|" + task + "|" + std::to_string(d.eval.seqlen) + "|" +
                            std::to_string(windows.size(0));
    if (!quantized) {  // this is the FP model: later runs of the sweep reuse its states for KL
      std::lock_guard<std::mutex> lock(fp_cache().mu);
      fp_cache().hidden.emplace(key, hidden);
      if (d.eval.kl) cache_save_tensor(cache, "fp_hidden", fdeps, hidden);
    }
    if (quantized && d.eval.kl && !fp_dir.empty()) {
      auto& c = fp_cache();
      std::unique_lock<std::mutex> lock(c.mu);
      auto it = c.hidden.find(key);
      if (it == c.hidden.end()) {
        lock.unlock();
        Tensor fh;
        if (!cache_load_tensor(cache, "fp_hidden", fdeps, &fh)) {
          Model fp(fp_dir);
          fh = final_hidden(fp, windows, LinearOps{}, d.eval.batch, "ppl " + task + " (FP)");
          cache_save_tensor(cache, "fp_hidden", fdeps, fh);
        }
        lock.lock();
        it = c.hidden.emplace(key, fh).first;
      }
      fp_hidden = it->second;
    }
    PplResult r = score_hidden(model, windows, hidden, fp_hidden.defined() ? &fp_hidden : nullptr);
    m["ppl/" + task] = r.ppl;
    m["nll/" + task] = r.nll;
    if (r.kl >= 0) {
      m["kl/" + task] = r.kl;
      m["top1/" + task] = r.top1;
    }
    rec.metrics.insert(m.begin(), m.end());
    cache_save_metrics(cache, edeps, m);
    rec.timings["eval/" + task] = since(t);
    log(opt, d.name, task + ": ppl " + fixed(r.ppl, 3) + " over " + std::to_string(r.windows) +
                         " windows" + (r.kl >= 0 ? ", KL " + fixed(r.kl, 4) : ""));
  }
  rec.timings["total"] = since(t_start);
  // Tests kill the process here, as a Slurm preemption would, to check nothing half-written stays
  // (KILL: it kills itself; STALL: it waits to be killed, by scancel in tests/slurm).
  if (const char* f = std::getenv("TWLA_TEST_KILL_BEFORE_WRITE"); f && std::string(f) == d.name)
    std::raise(SIGKILL);
  if (const char* f = std::getenv("TWLA_TEST_STALL_BEFORE_WRITE"); f && std::string(f) == d.name) {
    std::cerr << "[" << d.name << "] stalling before the write (test hook)" << std::endl;
    std::this_thread::sleep_for(std::chrono::minutes(10));  // until the test kills it
  }
  write_run(h5, rec);
  write_file_atomic(dir + "/DONE", id + "\n");
  log(opt, d.name, "wrote " + h5);
  return rec;
}

}  // namespace twla
