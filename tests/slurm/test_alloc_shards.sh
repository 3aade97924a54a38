#!/usr/bin/env bash
# tests/slurm/test_alloc_shards.sh TWLA_BINARY: ila-amp's evaluations farmed out on a real
# (throwaway, loopback) Slurm cluster: a one-run stories260K sweep whose allocator asks for
# shards: 2 is submitted as a 2-task shard array (`twla allocate --shard k/2`) and the run as a
# job that depends on it (afterok). Both shard files must exist, the run must have read them
# (not measured them), and its metrics must equal the same descriptor run locally in process.
# Exit 77 (ctest: skipped) where Slurm cannot start.
set -u
twla=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
here=$(cd "$(dirname "$0")" && pwd)
source "$here/cluster.sh"
T=$(mktemp -d /tmp/twla-slurm-alloc.XXXXXX)
cleanup() { slurm_stop; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in "$T"/runs/.sweep/logs/*.log; do echo "--- $f"; tail -5 "$f"; done; exit 1; }

slurm_start_or_skip "$T/cluster"

cat >"$T/alloc.yaml" <<YAML
name: a
model:
  path: \${data}/models/stories260K
threads: 1
quantizer: ternary-threshold
rotation: hadamard
calibration: {dataset: c4, nsamples: 2, seqlen: 32, seed: 0}
activations:
  bits: 4
  allocator: {name: ila-amp, candidates: [2, 4, 8], allocation_windows: 2, allocation_seqlen: 32,
              clip: fixed, shards: 2}
eval: {tasks: [tinystories], seqlen: 64, max_windows: 2, batch: 4, kl: false}
output: $T/runs
slurm: {time: "00:10:00", cpus_per_task: 1}
YAML

"$twla" sweep run "$T/alloc.yaml" --backend slurm --wait --poll 1 >"$T/status.txt" 2>"$T/submit.txt" ||
  fail "sweep run: $(cat "$T/submit.txt" "$T/status.txt")"
cat "$T/submit.txt" "$T/status.txt"
grep -q "1 runs: 1 done\|1 run: 1 done" "$T/status.txt" || fail "the run is not done"
grep -q "submitted 1 allocation shard array" "$T/submit.txt" || fail "no shard array submitted"
shard_job=$(cut -f1 "$T/runs/.sweep/slurm/shards.tsv")
grep -q "dependency=afterok:$shard_job" "$T"/runs/.sweep/slurm/array-0.sbatch || fail "the run does not depend on $shard_job"
for k in 1 2; do
  [ -s "$T/runs/a/allocation/shard-$k-of-2.json" ] || fail "shard $k of 2 missing"
  grep -q "shard $k of 2" "$T/runs/.sweep/logs/0-shard-$k.log" || fail "shard task $k did not measure it"
done
grep -q "2 shards: 2 read from" "$T/runs/.sweep/logs/0.log" || fail "the run did not read both shards"

# The same descriptor, every shard measured in the run's process: identical metrics.
"$twla" run "$T/alloc.yaml" output="$T/local" >/dev/null 2>&1 || fail "local run"
"$twla" report "$T/runs" --csv >"$T/slurm.csv" || fail "report"
"$twla" report "$T/local" --csv >"$T/local.csv" || fail "report local"
diff "$T/slurm.csv" "$T/local.csv" || fail "Slurm-farmed and in-process metrics differ"
echo "PASS: 2-shard allocation array + dependent run on Slurm; metrics equal to the in-process run"
