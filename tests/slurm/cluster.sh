# tests/slurm/cluster.sh: a throwaway single-node Slurm cluster on loopback, for tests.
# Source it, then: slurm_start DIR (0 = up; 77 = cannot start here, with the reason in
# $SLURM_SKIP_REASON), slurm_stop (stops only the daemons it started, by their pids).
# Everything lives under DIR: munge key/socket, slurm.conf, state, spool, logs, pid files.
# Not here: what runs on it (test_sweep.sh).

_slurm_pids=()

_slurm_skip() { SLURM_SKIP_REASON="$*"; return 77; }

slurm_start() {
  local d=$1
  SLURM_SKIP_REASON=""
  [ "$(id -u)" = 0 ] || { _slurm_skip "not root (slurmd must run as root to launch jobs)"; return; }
  local b
  for b in munged mungekey slurmctld slurmd sbatch squeue scancel; do
    command -v "$b" >/dev/null 2>&1 || [ -x "/usr/sbin/$b" ] ||
      { _slurm_skip "'$b' not found: install the Debian packages slurm-wlm and munge (scripts/install-deps.sh)"; return; }
  done
  export PATH="$PATH:/usr/sbin"
  mkdir -p "$d/munge" "$d/state" "$d/spool" "$d/log"
  chmod 700 "$d/munge"
  mungekey --create --keyfile="$d/munge/munge.key" --force >/dev/null 2>&1 ||
    { _slurm_skip "mungekey --create failed"; return; }
  chmod 400 "$d/munge/munge.key"
  munged --foreground --force --key-file="$d/munge/munge.key" --socket="$d/munge/munge.sock" \
    --pid-file="$d/munge/munged.pid" --log-file="$d/log/munged.log" \
    --seed-file="$d/munge/munged.seed" >"$d/log/munged.out" 2>&1 &
  _slurm_pids+=($!)
  local i
  for i in $(seq 50); do [ -S "$d/munge/munge.sock" ] && break; sleep 0.1; done
  [ -S "$d/munge/munge.sock" ] || { _slurm_skip "munged did not start: $(tail -2 "$d/log/munged.out" "$d/log/munged.log" 2>/dev/null | tr '\n' ' ')"; return; }

  local host cpus port=$(( 20000 + ($$ % 20000) ))
  host=$(hostname -s)
  cpus=$(nproc)
  cat >"$d/slurm.conf" <<CONF
ClusterName=twlatest
SlurmctldHost=${host}(127.0.0.1)
SlurmctldPort=${port}
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$d/munge/munge.sock
CryptoType=crypto/munge
StateSaveLocation=$d/state
SlurmdSpoolDir=$d/spool
SlurmctldPidFile=$d/slurmctld.pid
SlurmdPidFile=$d/slurmd.pid
SlurmctldLogFile=$d/log/slurmctld.log
SlurmdLogFile=$d/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
MinJobAge=600
KillWait=5
NodeName=${host} NodeAddr=127.0.0.1 CPUs=${cpus} State=UNKNOWN
PartitionName=debug Nodes=${host} Default=YES MaxTime=INFINITE State=UP
CONF
  export SLURM_CONF="$d/slurm.conf"
  slurmctld -D -i -f "$d/slurm.conf" >"$d/log/slurmctld.out" 2>&1 &
  _slurm_pids+=($!)
  slurmd -D -f "$d/slurm.conf" -N "$host" >"$d/log/slurmd.out" 2>&1 &
  _slurm_pids+=($!)
  for i in $(seq 100); do
    if sinfo -h -o '%T' 2>/dev/null | grep -qE '^idle'; then return 0; fi
    sleep 0.2
  done
  _slurm_skip "the node did not come up idle in 20 s: $(sinfo -h 2>&1 | head -1); $(tail -3 "$d/log/slurmctld.log" "$d/log/slurmd.log" 2>/dev/null | tr '\n' ' ')"
}

slurm_stop() {
  local p
  # Jobs first, so no slurmstepd (a child of slurmd that outlives it) is left behind.
  if [ -n "${SLURM_CONF:-}" ] && [ ${#_slurm_pids[@]} -gt 0 ]; then
    scancel --full --user="$(id -un)" 2>/dev/null || true
    for _ in $(seq 100); do [ -z "$(squeue -h 2>/dev/null)" ] && break; sleep 0.2; done
  fi
  for p in "${_slurm_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${_slurm_pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
  done
  _slurm_pids=()
}

# slurm_start_or_skip DIR: slurm_start, or exit 77 (ctest: skipped) saying why Slurm cannot start.
slurm_start_or_skip() {
  slurm_start "$1" && return 0
  echo "SKIPPED: Slurm cannot start here: $SLURM_SKIP_REASON"
  exit 77
}
