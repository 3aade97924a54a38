// tests/experiments/test_sweep_runners.cpp: the sweep plan on disk (per-run descriptors that
// reproduce the run ids), which runs resume picks, the Slurm array script, the slurm: block.
// Running real workers: tests/apps/test_sweep_cli.cpp (local) and tests/slurm/ (Slurm).
#include <filesystem>
#include <fstream>

#include "core/fs.h"
#include "core/paths.h"
#include "experiments/allocation_farm.h"
#include "experiments/descriptor.h"
#include "experiments/runner_slurm.h"
#include "experiments/sweep_plan.h"
#include "tests/catch.h"
#include "tests/support/util.h"

namespace fs = std::filesystem;

namespace {
using twla::test::temp_dir;

std::string sweep_yaml(const fs::path& out) {
  return "name: s\nmodel:\n  path: ${data}/models/stories260K\nquantizer: ternary-absmean\n"
         "output: " + out.string() + "\nslurm: {partition: gpu, time: '01:00:00', gpus: 1}\n"
         "sweep:\n  grid: {activations.bits: [16, 4]}\n  list: [{quantizer.group_size: -1}, {quantizer.group_size: 64}]\n";
}
}  // namespace

TEST_CASE("sweep plan: per-run descriptors reproduce the run ids", "[sweep]") {
  auto d = temp_dir("plan-plan");
  std::ofstream(d / "s.yaml") << sweep_yaml(d / "runs");
  auto plan = twla::write_plan((d / "s.yaml").string(), {"eval.seqlen=64"});
  REQUIRE(plan.runs.size() == 4);
  CHECK(plan.dir == (d / "runs" / ".sweep").string());
  CHECK(plan.slurm["partition"].as<std::string>() == "gpu");
  for (const auto& r : plan.runs) {
    CAPTURE(r.name);
    YAML::Node sweep, slurm, resolved;
    auto tree = twla::load_descriptor_tree(r.descriptor, {}, &sweep, &slurm);
    CHECK(sweep.IsNull());   // a per-run file has no sweep: block
    auto desc = twla::parse_descriptor(tree, &resolved);
    CHECK(twla::run_id(resolved) == r.id);
    CHECK(desc.eval.seqlen == 64);
    CHECK(r.run_dir == (d / "runs" / r.name).string());
  }
  CHECK(twla::read_file(plan.dir + "/plan.tsv").find(plan.runs[3].id) != std::string::npos);

  // Nothing done: every run resumes but the pending/running ones.
  CHECK(twla::runs_to_resume(plan, {}) == std::vector<int>{0, 1, 2, 3});
  CHECK(twla::runs_to_resume(plan, {{1, "running"}, {2, "pending"}, {3, "failed (exit 1)"}}) ==
        std::vector<int>{0, 3});
  // DONE with this run id: done; with another id (an older descriptor): not done.
  fs::create_directories(plan.runs[0].run_dir);
  fs::create_directories(plan.runs[1].run_dir);
  twla::write_file_atomic(plan.runs[0].run_dir + "/DONE", plan.runs[0].id + "\n");
  twla::write_file_atomic(plan.runs[1].run_dir + "/DONE", "0123456789ab\n");
  CHECK(twla::runs_to_resume(plan, {}) == std::vector<int>{1, 2, 3});
  auto status = twla::format_status(plan, {{3, "failed (exit 1)"}});
  CHECK(status.find("4 runs: 1 done, 1 failed (exit 1), 2 missing") != std::string::npos);
  fs::remove_all(d);
}

TEST_CASE("slurm: the array script carries the resources and runs one plan entry per task", "[slurm]") {
  twla::SweepPlan plan;
  plan.name = "s";
  plan.dir = "/x/runs/.sweep";
  auto spec = twla::parse_slurm_spec(YAML::Load("{partition: gpu, time: '01:00:00', gpus: 1, "
                                                "cpus_per_task: 8, mem: 64G, max_parallel: 2, "
                                                "sbatch_args: [--constraint=a100]}"));
  auto s = twla::sbatch_script(plan, {0, 2, 5}, spec, {"/bin/twla", "run"}, {"--data-dir", "/d"}, "/w");
  for (const char* line : {"#SBATCH --array=0,2,5%2\n", "#SBATCH --partition=gpu\n",
                           "#SBATCH --time=01:00:00\n", "#SBATCH --gpus=1\n",
                           "#SBATCH --cpus-per-task=8\n", "#SBATCH --mem=64G\n",
                           "#SBATCH --constraint=a100\n", "#SBATCH --chdir=/w\n",
                           "#SBATCH --output=/x/runs/.sweep/logs/%a.log\n",
                           "exec '/bin/twla' 'run' '/x/runs/.sweep/runs/'\"${SLURM_ARRAY_TASK_ID}\"'.yaml' "
                           "'--data-dir' '/d'\n"}) {
    CAPTURE(line);
    CHECK(s.find(line) != std::string::npos);
  }
  auto bare = twla::sbatch_script(plan, {1}, twla::SlurmSpec{}, {"t", "run"}, {}, "/w");
  CHECK(bare.find("--partition") == std::string::npos);
  CHECK(bare.find("--gpus") == std::string::npos);
  CHECK(bare.find("#SBATCH --array=1\n") != std::string::npos);
  CHECK_THROWS_WITH(twla::parse_slurm_spec(YAML::Load("{gpu: 1}")), Catch::Contains("did you mean 'gpus'"));
  CHECK_THROWS_WITH(twla::parse_slurm_spec(YAML::Load("{cpus_per_task: many}")),
                    Catch::Contains("slurm.cpus_per_task"));
  CHECK(twla::shell_quote("a'b") == "'a'\\''b'");
}

TEST_CASE("slurm: ila-amp shards run as an array before the run, which depends on it", "[slurm]") {
  twla::SweepPlan plan;
  plan.name = "s";
  plan.dir = "/x/runs/.sweep";
  auto spec = twla::parse_slurm_spec(YAML::Load("{time: '01:00:00', max_parallel: 3}"));
  auto s = twla::shard_sbatch_script(plan, 4, 8, spec, "/bin/twla", {"--data-dir", "/d"}, "/w");
  for (const char* line : {"#SBATCH --array=1-8%3\n", "#SBATCH --time=01:00:00\n",
                           "#SBATCH --output=/x/runs/.sweep/logs/4-shard-%a.log\n",
                           "exec '/bin/twla' allocate '/x/runs/.sweep/runs/4.yaml' --shard "
                           "\"${SLURM_ARRAY_TASK_ID}/8\" '--data-dir' '/d'\n"}) {
    CAPTURE(line);
    CHECK(s.find(line) != std::string::npos);
  }
  CHECK(s.find("--dependency") == std::string::npos);
  auto run = twla::sbatch_script(plan, {4}, spec, {"/bin/twla", "run"}, {}, "/w", {"11", "12"});
  CHECK(run.find("#SBATCH --dependency=afterok:11:12\n#SBATCH --kill-on-invalid-dep=yes\n") != std::string::npos);
  CHECK(twla::allocation_shards(YAML::Load("{activations: {allocator: {name: ila-amp, shards: 8}}}")) == 8);
  CHECK(twla::allocation_shards(YAML::Load("{activations: {allocator: {name: ila-amp, shards: 0}}}")) == 0);
  CHECK(twla::allocation_shards(YAML::Load("{activations: {allocator: {name: uniform}}}")) == 0);
}
