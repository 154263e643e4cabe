#!/usr/bin/env bash
# A real one-node SLURM cluster on this machine, for tests/test_slurm.py.
#
#   tests/slurm/cluster.sh up   STATE_DIR [PARTITION]   # start; returns once the node is idle
#   tests/slurm/cluster.sh down STATE_DIR               # stop the daemons started by `up`
#
# Everything lives under STATE_DIR: the munge key and socket, slurm.conf, controller state,
# slurmd spool, pid files and logs; nothing is written outside it. Clients find the cluster
# through either of
#   export SLURM_CONF=STATE_DIR/slurm.conf
#   export PATH=STATE_DIR/bin:$PATH     # wrappers of sbatch, srun, squeue, ... that set it
# The wrappers are needed by Snakemake: its SLURM jobstep plugin drops every SLURM_* variable
# except the job's identity before the `srun` inside a job, so that srun would otherwise look
# only at /etc/slurm/slurm.conf. PATH survives.
# Ports are picked free at `up` time, so several clusters can run side by side.
# `down` signals only the pids recorded in STATE_DIR/*.pid (munged, slurmctld, slurmd).
# Needs: munge, slurmctld, slurmd, slurm-client (see .ci/slurm.sh); run as root or as a
# user that may start daemons (SlurmUser is the current user).
set -euo pipefail

usage() {
  echo "usage: $0 up STATE_DIR [PARTITION] | down STATE_DIR" >&2
  exit 2
}

[[ $# -ge 2 ]] || usage
cmd=$1
state=$(mkdir -p "$2" && cd "$2" && pwd)
partition=${3:-debug}
conf="$state/slurm.conf"
export SLURM_CONF="$conf"

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

log_tail() {
  for f in "$state"/log/*.log; do
    [[ -f $f ]] && { echo "--- $f" >&2; tail -n 20 "$f" >&2; }
  done
}

stop_pidfile() {  # stop_pidfile FILE: TERM, wait up to 10 s, then KILL; only that pid
  local file=$1 pid
  [[ -f $file ]] || return 0
  pid=$(cat "$file")
  if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$file"
}

up() {
  local host cpus mem_mb port_ctld port_d user
  for tool in munged slurmctld slurmd sinfo; do
    command -v "$tool" >/dev/null || { echo "$tool not found: run .ci/slurm.sh" >&2; exit 1; }
  done
  host=$(hostname -s)
  user=$(id -un)
  cpus=$(nproc)
  # RealMemory: MemTotal minus 2 GiB headroom for the OS and the submitting process.
  mem_mb=$(awk '/^MemTotal:/ {m = int($2 / 1024) - 2048; print (m > 512 ? m : 512)}' /proc/meminfo)
  port_ctld=$(free_port)
  port_d=$(free_port)
  mkdir -p "$state"/{munge,ctld,spool,log}
  chmod 700 "$state/munge"

  # munge: a private key and socket, so no system-wide munged is needed or disturbed.
  dd if=/dev/urandom of="$state/munge/munge.key" bs=1 count=1024 status=none
  chmod 400 "$state/munge/munge.key"
  munged --force \
    --key-file="$state/munge/munge.key" \
    --socket="$state/munge/munge.socket" \
    --pid-file="$state/munged.pid" \
    --log-file="$state/log/munged.log" \
    --seed-file="$state/munge/munged.seed"

  cat >"$conf" <<EOF
ClusterName=distilface-test
SlurmctldHost=$host
SlurmctldPort=$port_ctld
SlurmdPort=$port_d
SlurmUser=$user
SlurmdUser=$user
AuthType=auth/munge
AuthInfo=socket=$state/munge/munge.socket
StateSaveLocation=$state/ctld
SlurmdSpoolDir=$state/spool
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=$state/log/slurmctld.log
SlurmdLogFile=$state/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
# Finished jobs stay visible to squeue this long (the plugin's status command here).
MinJobAge=300
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=$host CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=$partition Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF

  mkdir -p "$state/bin"
  for tool in sbatch srun squeue sinfo scontrol scancel sacct; do
    real=$(command -v "$tool") || continue
    printf '#!/bin/sh\nSLURM_CONF=%q exec %q "$@"\n' "$conf" "$real" >"$state/bin/$tool"
    chmod 755 "$state/bin/$tool"
  done

  slurmctld -f "$conf"
  slurmd -f "$conf"
  for _ in $(seq 1 150); do
    if [[ $(sinfo -h -p "$partition" -o %t 2>/dev/null) == idle ]]; then
      echo "cluster up: SLURM_CONF=$conf bin=$state/bin partition=$partition node=$host cpus=$cpus mem_mb=$mem_mb"
      return 0
    fi
    sleep 0.2
  done
  echo "the node did not become idle within 30 s" >&2
  sinfo -N -l >&2 || true
  log_tail
  exit 1
}

down() {
  stop_pidfile "$state/slurmd.pid"
  stop_pidfile "$state/slurmctld.pid"
  stop_pidfile "$state/munged.pid"
  echo "cluster down: $state"
}

case $cmd in
  up) up ;;
  down) down ;;
  *) usage ;;
esac
