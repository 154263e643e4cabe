#!/usr/bin/env bash
# CI: install a real SLURM (22.05 on Debian 12) + munge so tests/test_slurm.py runs instead of
# skipping. The test brings a one-node cluster up itself (tests/slurm/cluster.sh), with all
# its state in a temp dir. Needs root (or sudo). About 15 s after the package index update.
set -euo pipefail
if command -v sbatch >/dev/null && command -v slurmctld >/dev/null && command -v munged >/dev/null; then
  echo "SLURM already installed: $(dpkg-query -W -f '${Version}' slurm-client 2>/dev/null || echo unknown version)"
  exit 0
fi
SUDO=""
[[ $(id -u) -eq 0 ]] || SUDO="sudo"
$SUDO apt-get update
$SUDO apt-get install -y slurmctld slurmd slurm-client munge
