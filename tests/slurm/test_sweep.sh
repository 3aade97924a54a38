#!/usr/bin/env bash
# tests/slurm/test_sweep.sh TWLA_BINARY: `twla sweep --backend slurm` on a real (throwaway,
# loopback) Slurm cluster: a 4-run stories260K sweep as one job array; one task is killed by
# scancel mid-way (it stalls before writing its results); `twla sweep status` must call it
# failed and the other three done; `twla sweep resume` must resubmit only it; then all four
# results must exist, the three finished files must be untouched, and the metrics must equal
# the same sweep run by the local backend. Exit 77 (ctest: skipped) where Slurm cannot start.
set -u
twla=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
here=$(cd "$(dirname "$0")" && pwd)
source "$here/cluster.sh"
T=$(mktemp -d /tmp/twla-slurm.XXXXXX)
cleanup() { slurm_stop; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in "$T"/runs/.sweep/logs/*.log; do echo "--- $f"; tail -5 "$f"; done; exit 1; }

slurm_start_or_skip "$T/cluster"
echo "slurm up: $(sinfo -h -o '%P %T %N' | head -1)"

cat >"$T/sweep.yaml" <<YAML
name: s
model:
  path: \${data}/models/stories260K
threads: 1
quantizer: ternary-absmean
eval: {tasks: [tinystories], seqlen: 128, max_windows: 8, batch: 8, kl: true}
output: $T/runs
slurm: {time: "00:10:00", cpus_per_task: 1}
sweep:
  grid: {activations.bits: [16, 8, 6, 4]}
YAML
sweep() { local action=$1; shift; "$twla" sweep "$action" "$T/sweep.yaml" "$@"; }

sweep plan >"$T/plan.txt" || fail "twla sweep plan"
[ "$(grep -c $'\t' "$T/plan.txt")" = 4 ] || fail "plan does not list 4 runs: $(cat "$T/plan.txt")"
victim=s-6   # the run killed mid-way
vi=$(awk -F'\t' -v n=$victim '$3 == n {print $1}' "$T/plan.txt")

TWLA_TEST_STALL_BEFORE_WRITE=$victim sweep run --backend slurm >"$T/job.txt" || fail "submit"
job=$(tail -1 "$T/job.txt")
echo "submitted job array $job; waiting for task $vi ($victim) to be mid-way"
log="$T/runs/.sweep/logs/$vi.log"
for _ in $(seq 600); do grep -q "stalling before the write" "$log" 2>/dev/null && break; sleep 0.2; done
grep -q "stalling before the write" "$log" 2>/dev/null || fail "task $vi never got mid-way"
scancel "${job}_${vi}" || fail "scancel ${job}_${vi}"
for _ in $(seq 600); do [ -z "$(squeue -h -j "$job" 2>/dev/null)" ] && break; sleep 0.2; done

sweep status >"$T/status1.txt" || fail "status"
cat "$T/status1.txt"
grep -q "4 runs: 3 done, 1 failed" "$T/status1.txt" || fail "expected 3 done and 1 failed"
awk -F'\t' -v i=$vi '$1 == i' "$T/status1.txt" | grep -q failed || fail "run $vi is not the failed one"
[ ! -e "$T/runs/$victim/results.h5" ] || fail "the killed run left a results.h5"
before=$(cd "$T/runs" && sha256sum */results.h5 | sort)

sweep resume --backend slurm --wait --poll 1 >"$T/status2.txt" || fail "resume: $(cat "$T/status2.txt")"
cat "$T/status2.txt"
grep -q "4 runs: 4 done" "$T/status2.txt" || fail "expected 4 done after resume"
[ "$(wc -l <"$T/runs/.sweep/slurm/jobs.tsv")" = 2 ] || fail "expected two submissions"
[ "$(tail -1 "$T/runs/.sweep/slurm/jobs.tsv" | cut -f2)" = "$vi" ] ||
  fail "resume resubmitted more than the killed run: $(tail -1 "$T/runs/.sweep/slurm/jobs.tsv")"
after=$(cd "$T/runs" && sha256sum */results.h5 | grep -v " $victim/" | sort)
[ "$before" = "$after" ] || fail "finished results changed on resume"

# The same sweep through the local backend: identical metrics.
sweep run --backend local --workers 2 output="$T/local" >/dev/null 2>&1 || fail "local sweep"
"$twla" report "$T/runs" --csv >"$T/slurm.csv" || fail "report"
"$twla" report "$T/local" --csv >"$T/local.csv" || fail "report local"
[ "$(wc -l <"$T/slurm.csv")" = 5 ] || fail "report does not hold 4 runs: $(cat "$T/slurm.csv")"
diff "$T/slurm.csv" "$T/local.csv" || fail "Slurm and local metrics differ"
echo "PASS: 4 runs on Slurm, one killed by scancel and resumed, metrics equal to the local backend"
