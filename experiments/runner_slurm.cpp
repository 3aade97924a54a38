// experiments/runner_slurm.cpp: see runner_slurm.h.
#include "experiments/runner_slurm.h"

#include <sys/wait.h>

#include <cstdio>
#include <set>
#include <sstream>

#include "core/error.h"
#include "core/fs.h"
#include "core/strings.h"
#include "experiments/allocation_farm.h"

namespace twla {

namespace {
std::string jobs_file(const SweepPlan& p) { return p.dir + "/slurm/jobs.tsv"; }

// (job id, indices) of every submission, oldest first.
std::vector<std::pair<std::string, std::vector<int>>> read_jobs(const SweepPlan& p) {
  std::vector<std::pair<std::string, std::vector<int>>> out;
  if (!file_exists(jobs_file(p))) return out;
  std::istringstream in(read_file(jobs_file(p)));
  for (std::string line; std::getline(in, line);) {
    auto parts = split(line, '\t');
    if (parts.size() != 2) continue;
    std::vector<int> idx;
    for (const auto& s : split(parts[1], ',')) idx.push_back(std::stoi(s));
    out.emplace_back(parts[0], idx);
  }
  return out;
}

// "123_4" -> {"123", 4}; false for lines that are not one array task ("123_[1-3]" pending, "123").
bool array_task(const std::string& id, std::string* job, int* index) {
  auto u = id.find('_');
  if (u == std::string::npos || id.find('[') != std::string::npos) return false;
  *job = id.substr(0, u);
  try {
    *index = std::stoi(id.substr(u + 1));
  } catch (const std::exception&) {
    return false;
  }
  return true;
}

// "job_index|STATE" lines of squeue / sacct -> (job, index) -> state.
std::map<std::pair<std::string, int>, std::string> parse_states(const std::string& text) {
  std::map<std::pair<std::string, int>, std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    auto bar = line.find('|');
    std::string job;
    int index = 0;
    if (bar == std::string::npos || !array_task(trim(line.substr(0, bar)), &job, &index)) continue;
    out[{job, index}] = split(trim(line.substr(bar + 1)), ' ')[0];  // "CANCELLED by 0" -> CANCELLED
  }
  return out;
}
// Submits a script with `sbatch --parsable`; the job id. Error naming sbatch's message and the fix.
std::string sbatch(const std::string& script) {
  std::string out;
  int rc = run_capture("sbatch --parsable " + shell_quote(script) + " 2>&1", &out);
  TWLA_CHECK(rc == 0, "sbatch failed (exit ", rc, "): ", trim(out),
             "; check slurm.partition/time/mem in the descriptor or the --partition/--time flags, "
             "and that `sinfo` works here");
  return split(trim(out), ';')[0];  // --parsable: "jobid[;cluster]"
}
}  // namespace

SlurmSpec parse_slurm_spec(const YAML::Node& block) {
  SlurmSpec s;
  if (block && !block.IsNull()) parse_fields(s, block, "slurm");
  return s;
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

int run_capture(const std::string& cmd, std::string* out) {
  out->clear();
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return -1;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out->append(buf, n);
  int st = ::pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

namespace {
// An array script's #SBATCH lines (resources, dependency) and its first shell lines.
std::string sbatch_header(const std::string& comment, const std::string& job_name, const std::string& array,
                          const std::string& log, const SlurmSpec& spec, const std::string& workdir,
                          const std::vector<std::string>& after) {
  std::ostringstream o;
  o << "#!/bin/bash\n"
    << "# " << comment << "\n"
    << "#SBATCH --job-name=" << job_name << "\n"
    << "#SBATCH --array=" << array << (spec.max_parallel > 0 ? "%" + std::to_string(spec.max_parallel) : "") << "\n"
    << "#SBATCH --output=" << log << "\n"
    << "#SBATCH --open-mode=append\n"
    << "#SBATCH --chdir=" << workdir << "\n";
  auto opt = [&](const char* flag, const std::string& v) {
    if (!v.empty() && v != "0") o << "#SBATCH --" << flag << "=" << v << "\n";
  };
  opt("partition", spec.partition);
  opt("time", spec.time);
  opt("mem", spec.mem);
  opt("account", spec.account);
  opt("qos", spec.qos);
  opt("cpus-per-task", std::to_string(spec.cpus_per_task));
  opt("gpus", std::to_string(spec.gpus));
  for (const auto& a : spec.sbatch_args) o << "#SBATCH " << a << "\n";
  if (!after.empty())
    o << "#SBATCH --dependency=afterok:" << join(after, ":") << "\n#SBATCH --kill-on-invalid-dep=yes\n";
  o << "set -eu\n"
    << "echo \"== $(date -u +%FT%TZ) job ${SLURM_JOB_ID} task ${SLURM_ARRAY_TASK_ID} on $(hostname)\"\n";
  return o.str();
}
}  // namespace

std::string sbatch_script(const SweepPlan& plan, const std::vector<int>& indices,
                          const SlurmSpec& spec, const std::vector<std::string>& command,
                          const std::vector<std::string>& extra, const std::string& workdir,
                          const std::vector<std::string>& after) {
  std::vector<std::string> idx;
  for (int i : indices) idx.push_back(std::to_string(i));
  std::ostringstream o;
  o << sbatch_header("twla sweep '" + plan.name + "': array task i runs run i of " + plan.dir + "/plan.tsv",
                     "twla-" + plan.name, join(idx, ","), plan.dir + "/logs/%a.log", spec, workdir, after)
    << "exec";
  for (const auto& c : command) o << " " << shell_quote(c);
  o << " " << shell_quote(plan.dir + "/runs/") << "\"${SLURM_ARRAY_TASK_ID}\"" << shell_quote(".yaml");
  for (const auto& e : extra) o << " " << shell_quote(e);
  o << "\n";
  return o.str();
}

std::string shard_sbatch_script(const SweepPlan& plan, int index, int shards, const SlurmSpec& spec,
                                const std::string& twla, const std::vector<std::string>& extra,
                                const std::string& workdir) {
  const std::string i = std::to_string(index), n = std::to_string(shards);
  std::ostringstream o;
  o << sbatch_header("twla sweep '" + plan.name + "': task k measures shard k of " + n +
                         " of run " + i + "'s ila-amp evaluations",
                     "twla-" + plan.name + "-alloc" + i, "1-" + n, plan.dir + "/logs/" + i + "-shard-%a.log",
                     spec, workdir, {})
    << "exec " << shell_quote(twla) << " allocate " << shell_quote(plan.dir + "/runs/" + i + ".yaml")
    << " --shard \"${SLURM_ARRAY_TASK_ID}/" << n << "\"";
  for (const auto& e : extra) o << " " << shell_quote(e);
  o << "\n";
  return o.str();
}

std::string slurm_submit(const SweepPlan& plan, const std::vector<int>& indices,
                         const SlurmSpec& spec, const std::string& twla,
                         const std::vector<std::string>& extra, const std::vector<std::string>& after) {
  TWLA_ASSERT(!indices.empty());
  make_dirs(plan.dir + "/slurm");
  auto jobs = read_jobs(plan);
  std::string script = plan.dir + "/slurm/array-" + std::to_string(jobs.size()) + ".sbatch";
  char cwd[4096];
  TWLA_CHECK(::getcwd(cwd, sizeof cwd), "twla sweep: cannot read the working directory");
  write_file_atomic(script, sbatch_script(plan, indices, spec, {twla, "run"}, extra, cwd, after));
  std::string job = sbatch(script);
  std::vector<std::string> idx;
  for (int i : indices) idx.push_back(std::to_string(i));
  std::string prev = file_exists(jobs_file(plan)) ? read_file(jobs_file(plan)) : "";
  write_file_atomic(jobs_file(plan), prev + job + "\t" + join(idx, ",") + "\n");
  return job;
}

std::vector<std::string> slurm_submit_shards(const SweepPlan& plan, const std::vector<int>& indices,
                                             const SlurmSpec& spec, const std::string& twla,
                                             const std::vector<std::string>& extra) {
  std::vector<std::string> jobs;
  char cwd[4096];
  TWLA_CHECK(::getcwd(cwd, sizeof cwd), "twla sweep: cannot read the working directory");
  const std::string tsv = plan.dir + "/slurm/shards.tsv";
  for (int i : indices) {
    const int n = allocation_shards(YAML::LoadFile(plan.runs[size_t(i)].descriptor));
    if (n <= 0) continue;
    make_dirs(plan.dir + "/slurm");
    const std::string script = plan.dir + "/slurm/shards-" + std::to_string(i) + ".sbatch";
    write_file_atomic(script, shard_sbatch_script(plan, i, n, spec, twla, extra, cwd));
    jobs.push_back(sbatch(script));
    const std::string prev = file_exists(tsv) ? read_file(tsv) : "";
    write_file_atomic(tsv, prev + jobs.back() + "\t" + std::to_string(i) + "\t" + std::to_string(n) + "\n");
  }
  return jobs;
}

std::map<int, std::string> slurm_states(const SweepPlan& plan) {
  std::map<int, std::string> out;
  auto jobs = read_jobs(plan);
  if (jobs.empty()) return out;
  std::vector<std::string> ids;
  std::map<int, std::string> latest;  // index -> the last job that ran it
  for (const auto& [job, idx] : jobs) {
    ids.push_back(job);
    for (int i : idx) latest[i] = job;
  }
  std::string q, a;
  run_capture("squeue -h -r -o '%i|%T' 2>/dev/null", &q);
  auto queued = parse_states(q);
  // sacct fails where the cluster keeps no accounting: then squeue + DONE decide.
  std::map<std::pair<std::string, int>, std::string> acct;
  if (run_capture("sacct -n -P -X -o JobID,State -j " + join(ids, ",") + " 2>/dev/null", &a) == 0)
    acct = parse_states(a);
  for (const auto& [index, job] : latest) {
    if (index >= int(plan.runs.size()) || run_done(plan.runs[index])) continue;
    auto it = queued.find({job, index});
    std::string s = it != queued.end() ? it->second : "";
    if (s.empty()) {
      auto ia = acct.find({job, index});
      s = ia != acct.end() ? ia->second : "";
    }
    if (s == "PENDING" || s == "CONFIGURING" || s == "REQUEUED" || s == "RESIZING" || s == "SUSPENDED")
      out[index] = "pending";
    else if (s == "RUNNING" || s == "COMPLETING")
      out[index] = "running";
    else
      out[index] = "failed (" + (s.empty() ? std::string("left the queue without DONE") : s) + ")";
  }
  return out;
}

std::vector<std::string> slurm_live_jobs(const SweepPlan& plan) {
  std::set<std::string> mine;
  for (const auto& [job, idx] : read_jobs(plan)) mine.insert(job);
  std::string q;
  run_capture("squeue -h -r -o '%i|%T' 2>/dev/null", &q);
  std::set<std::string> live;
  for (const auto& [key, state] : parse_states(q))
    if (mine.count(key.first)) live.insert(key.first);
  return {live.begin(), live.end()};
}

}  // namespace twla
