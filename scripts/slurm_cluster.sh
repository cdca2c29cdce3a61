#!/usr/bin/env bash
# A one-node SLURM cluster on this host (Debian's slurm-wlm and munge), for tests/test_slurm.py and
# for trying workflow/profiles/slurm without a real cluster. Root only; nothing leaves this host.
#
#   bash scripts/slurm_cluster.sh start     # install if needed, configure, start; waits for the node
#   bash scripts/slurm_cluster.sh stop      # stop slurmd, slurmctld and munged
#   bash scripts/slurm_cluster.sh status    # exit 0 when the cluster answers and its node is up
#   bash scripts/slurm_cluster.sh install   # the Debian packages only (skipped when installed)
#
# start is idempotent: a running cluster with an unchanged configuration is left as it is.
# The node is this host (its short hostname at 127.0.0.1) with the CPUs and memory `slurmd -C`
# finds; process tracking by /proc (proctrack/linuxproc), no task plugin (no cgroups), no
# accounting database: the SLURM profile is run with `--slurm-status-command squeue` here, and
# every finished job is recorded in $JOBCOMP (jobcomp/filetxt), which the test reads.
# /etc/slurm/slurm.conf is written only when absent or written by this script before.
# Exit codes: 0 done, 1 failed, 3 SLURM cannot be set up here (not root, no apt-get, a foreign
# slurm.conf, the install failed): the reason is the last line on stderr.
set -euo pipefail

CONF=/etc/slurm/slurm.conf
MARK="# Written by blockbench scripts/slurm_cluster.sh"
LOGDIR=/var/log/slurm
JOBCOMP=$LOGDIR/jobcomp.log
STATE=/var/lib/slurm
PACKAGES=(slurmctld slurmd slurm-client munge)
HOST=$(hostname -s)

say() { echo "slurm_cluster: $*"; }
cannot() { echo "slurm_cluster: cannot set up SLURM here: $*" >&2; exit 3; }
fail() { echo "slurm_cluster: $*" >&2; exit 1; }

installed() {
  command -v slurmctld >/dev/null && command -v slurmd >/dev/null &&
    command -v sbatch >/dev/null && command -v munged >/dev/null
}

need_root() { [ "$(id -u)" = 0 ] || cannot "not root (it installs packages and starts daemons)"; }

install_packages() {
  if installed; then
    return 0
  fi
  need_root
  command -v apt-get >/dev/null || cannot "apt-get unavailable (Debian's slurm-wlm and munge)"
  say "installing ${PACKAGES[*]} (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  # (the packages' own service start is refused where there is no init system: start() does it)
  local apt=(apt-get -q -o DPkg::Lock::Timeout=120) log=/tmp/slurm_cluster_apt.log
  if ! "${apt[@]}" install -y --no-install-recommends "${PACKAGES[@]}" >"$log" 2>&1; then
    "${apt[@]}" update >>"$log" 2>&1 || true # package lists absent or stale
    "${apt[@]}" install -y --no-install-recommends "${PACKAGES[@]}" >>"$log" 2>&1 ||
      cannot "apt-get install ${PACKAGES[*]} failed (see $log)"
  fi
  installed || cannot "the packages installed but slurmctld, slurmd, sbatch or munged is missing"
}

# a daemon is running when its pid file names a live process of that name (not a reused pid)
alive() {
  local pid
  pid=$(cat "/run/$1.pid" 2>/dev/null) || return 1
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$(basename "$1")" ]
}

config() {
  # the node's CPUs, sockets, cores and memory as slurmd itself detects them (a node that claims
  # more is drained), a tenth of the memory left to the host
  local node mem
  node=$(slurmd -C | sed -n 1p)
  mem=$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$node")
  node=${node/RealMemory=$mem/RealMemory=$((mem * 9 / 10))}
  node=${node/NodeName=$HOST/NodeName=$HOST NodeAddr=127.0.0.1 NodeHostname=$HOST}
  cat <<EOF
$MARK: a one-node cluster on this host only.
ClusterName=blockbench
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=slurm
AuthType=auth/munge
StateSaveLocation=$STATE/slurmctld
SlurmdSpoolDir=$STATE/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=$LOGDIR/slurmctld.log
SlurmdLogFile=$LOGDIR/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$JOBCOMP
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
MpiDefault=none
ReturnToService=2
PropagatePrioProcess=1
MinJobAge=300
DefMemPerCPU=1024
$node
PartitionName=main Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF
}

write_config() {
  # prints "changed" when the file was (re)written
  local want
  want=$(config)
  if [ -f "$CONF" ] && ! ours; then
    cannot "$CONF exists and was not written by this script (a real cluster's?); left alone"
  fi
  if [ -f "$CONF" ] && [ "$(cat "$CONF")" = "$want" ]; then
    return 0
  fi
  mkdir -p "$(dirname "$CONF")"
  printf '%s\n' "$want" >"$CONF.tmp" && mv "$CONF.tmp" "$CONF"
  echo changed
}

ours() { [[ $(sed -n 1p "$CONF" 2>/dev/null) == "$MARK"* ]]; }

# slurmctld answers and the node takes jobs (a trailing * or ~ means not responding, powered off)
ready() {
  [[ $(scontrol ping 2>/dev/null) == *"is UP"* ]] &&
    [[ $(sinfo -h -N -n "$HOST" -o %T 2>/dev/null) =~ ^(idle|mixed|allocated|completing)$ ]]
}

start_munge() {
  if alive munge/munged && munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    return 0
  fi
  install -d -o munge -g munge -m 0755 /run/munge
  if [ ! -s /etc/munge/munge.key ]; then
    runuser -u munge -- mungekey --create --keyfile=/etc/munge/munge.key
  fi
  runuser -u munge -- /usr/sbin/munged
  for _ in $(seq 50); do
    munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  fail "munged did not start (see /var/log/munge/munged.log)"
}

start() {
  install_packages
  need_root
  local changed
  changed=$(write_config)
  if [ -n "$changed" ] && { alive slurmctld || alive slurmd; }; then
    say "configuration changed: restarting"
    stop
  fi
  if ready && alive slurmctld && alive slurmd; then
    say "running (node $HOST: $(sinfo -h -N -n "$HOST" -o %T))"
    return 0
  fi
  install -d -o slurm -g slurm -m 0755 "$LOGDIR" "$STATE" "$STATE/slurmctld"
  install -d -m 0755 "$STATE/slurmd"
  start_munge
  alive slurmctld || slurmctld
  alive slurmd || slurmd
  for i in $(seq 120); do
    if ready; then
      say "running (node $HOST: $(sinfo -h -N -n "$HOST" -o %T))"
      return 0
    fi
    # a node left down or drained by an earlier run: return it to service
    if [ $((i % 10)) = 0 ]; then
      scontrol update nodename="$HOST" state=resume 2>/dev/null || true
    fi
    sleep 0.5
  done
  fail "the node did not come up in 60 s ($(sinfo -h -N -o '%N %T %E' 2>&1)); see $LOGDIR"
}

stop_pid() {
  local pid
  if alive "$1"; then
    pid=$(cat "/run/$1.pid")
    kill "$pid"
    for _ in $(seq 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    ! kill -0 "$pid" 2>/dev/null || fail "$1 (pid $pid) did not stop"
  fi
  rm -f "/run/$1.pid" # slurmctld cannot remove its own (written before it drops to SlurmUser)
}

stop() {
  stop_pid slurmd
  stop_pid slurmctld
  stop_pid munge/munged
  say "stopped"
}

status() {
  if ours && ready; then
    sinfo -N -o '%N %T %c %m'
  else
    say "not running"
    return 1
  fi
}

case "${1:-}" in
  install) install_packages ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  *)
    echo "usage: $0 start|stop|status|install" >&2
    exit 2
    ;;
esac
