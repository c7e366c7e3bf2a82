#!/usr/bin/env bash
# A throw-away single-node SLURM cluster for tests (Debian slurm-wlm + munge, no systemd):
#   scripts/slurm_test_cluster.sh start DIR   start munged, slurmctld and slurmd with their state in DIR;
#                                             prints the two `export` lines clients need (SLURM_CONF, PATH)
#   scripts/slurm_test_cluster.sh stop DIR    stop them (by the PIDs recorded in DIR)
# The node is declared as the node the SLURM profile is written for (8 CPUs, 64 GB, one GPU: a device file
# listed in gres.conf), whatever this machine has (slurmd's config_overrides; nothing enforces the limits), so
# the profile's group jobs can be placed on it unchanged. There is no accounting database (slurmdbd): an `sacct`
# on the clients' PATH answers the job-state query that Snakemake's SLURM executor sends from squeue.
set -euo pipefail
cmd=${1:?usage: $0 start|stop DIR}
dir=$(realpath -m "${2:?usage: $0 start|stop DIR}")

stop() {
  for name in slurmd slurmctld munged; do
    if [ -f "$dir/$name.pid" ]; then
      pid=$(cat "$dir/$name.pid")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
      rm -f "$dir/$name.pid"
    fi
  done
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

start() {
  mkdir -p "$dir"/{state,spool,munge}
  chmod 700 "$dir/munge"
  host=$(hostname -s)
  user=$(id -un)
  cpus=8
  mem=64000
  # munge: a fresh key, our own socket
  dd if=/dev/urandom bs=1 count=1024 of="$dir/munge/munge.key" status=none
  chmod 400 "$dir/munge/munge.key"
  munged --force --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.sock" \
         --pid-file="$dir/munged.pid" --log-file="$dir/munged.log" --seed-file="$dir/munge/munge.seed"
  # the fake GPU: a character device (like /dev/null) when we may create one, else /dev/null itself
  gpu="$dir/fakegpu0"
  mknod "$gpu" c 1 3 2>/dev/null || gpu=/dev/null
  cat > "$dir/slurm.conf" <<CONF
ClusterName=unavtest
SlurmctldHost=$host(127.0.0.1)
SlurmUser=$user
SlurmdUser=$user
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.sock
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
ReturnToService=2
SlurmdParameters=config_overrides
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
GresTypes=gpu
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MinJobAge=3600
KillWait=5
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem Gres=gpu:1 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
  echo "NodeName=$host Name=gpu File=$gpu" > "$dir/gres.conf"
  : > "$dir/cgroup.conf"   # defaults; the proctrack/task plugins above use no cgroups
  # Snakemake's SLURM jobstep plugin drops every SLURM_* variable (SLURM_CONF too) before its nested `srun`;
  # real clusters keep their config at /etc/slurm/slurm.conf, ours is here: an srun on PATH that knows it.
  mkdir -p "$dir/bin"
  printf '#!/bin/sh\nSLURM_CONF=%s exec %s "$@"\n' "$dir/slurm.conf" "$(command -v srun)" > "$dir/bin/srun"
  chmod +x "$dir/bin/srun"
  # sacct without slurmdbd: the executor's query `sacct -X --parsable2 --noheader --format=JobIdRaw,State
  # --name RUN …` answered from squeue, which keeps finished jobs for MinJobAge (3600 s) here
  cat > "$dir/bin/sacct" <<'SACCT'
#!/bin/sh
name=""
while [ $# -gt 0 ]; do
  case "$1" in
    --name) name="$2"; shift ;;
    --name=*) name="${1#--name=}" ;;
  esac
  shift
done
if [ -n "$name" ]; then exec squeue --states=all --noheader --format='%i|%T' --name "$name"; fi
exec squeue --states=all --noheader --format='%i|%T'
SACCT
  chmod +x "$dir/bin/sacct"
  export SLURM_CONF="$dir/slurm.conf"
  slurmctld -c
  slurmd -c
  for _ in $(seq 100); do
    if sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed)'; then
      echo "export SLURM_CONF=$dir/slurm.conf"
      echo "export PATH=$dir/bin:\$PATH"
      return 0
    fi
    sleep 0.2
  done
  echo "slurm_test_cluster: the node did not come up; logs in $dir" >&2
  sinfo >&2 || true
  tail -20 "$dir/slurmctld.log" "$dir/slurmd.log" >&2 || true
  stop
  return 1
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
