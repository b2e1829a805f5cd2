#!/usr/bin/env bash
# A single-node Slurm cluster on this machine (slurmctld + slurmd + munge from Debian's
# packages), for tests/test_slurm.py. Idempotent: installs what is missing, writes
# /etc/slurm/slurm.conf, starts the daemons that are not running, waits until the node is idle,
# and prints each thing it did. Run as root:
#
#     sudo bash .ci/slurm-up.sh
#
# Exit 0: the cluster is up (`sinfo` shows the node idle). Exit 2: Slurm cannot be set up
# here (not root, no apt-get, the packages cannot be installed, or a slurm.conf this script
# did not write): the test then skips, saying why. Any other code: the packages are installed
# but the cluster did not come up, which is a failure worth seeing (logs under /var/log/slurm).
set -uo pipefail

CONF=/etc/slurm/slurm.conf
MARK="# Written by cxsim's .ci/slurm-up.sh"
NODE=localhost
LOGS=/var/log/slurm
SPOOL_CTLD=/var/spool/slurmctld
SPOOL_D=/var/spool/slurmd
started=$(date +%s)

say() { echo "slurm-up: $*"; }
cannot() { say "cannot set up Slurm here: $*"; exit 2; }
broken() { say "FAILED: $*"; exit 1; }

# Running: the pid file names a live process of that name.
running() {
    local pid
    pid=$(cat "/run/$1.pid" 2>/dev/null) || return 1
    [[ -n $pid && $(cat "/proc/$pid/comm" 2>/dev/null) == "$1" ]]
}

node_state() { sinfo -h -n "$NODE" -o %T 2>/dev/null | head -1; }

# A job runs: the controller may still list a node idle minutes after its slurmd died.
job_runs() { timeout 60 srun -N1 -t 1 --immediate=30 true 2>/dev/null; }

# A cluster someone else runs (or ours, seen without root): use it if a job runs there.
if [[ $(id -u) != 0 ]] || { [[ -e $CONF ]] && ! grep -qF "$MARK" "$CONF"; }; then
    if command -v sinfo >/dev/null && [[ $(node_state) == idle ]] && job_runs; then
        say "already up: node $NODE idle, a job runs ($(sinfo --version))"
        exit 0
    fi
fi
[[ $(id -u) == 0 ]] || cannot "not root (run: sudo bash $0)"

# 1. Packages.
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null \
        || ! command -v munged >/dev/null || ! command -v sinfo >/dev/null; then
    command -v apt-get >/dev/null || cannot "no apt-get to install slurm-wlm and munge"
    say "installing slurm-wlm and munge with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    t0=$(date +%s)
    if ! apt-get install -y -qq --no-install-recommends slurm-wlm munge >/tmp/slurm-up-apt.log 2>&1; then
        say "apt-get install failed; updating the package lists and trying again"
        apt-get update -qq >>/tmp/slurm-up-apt.log 2>&1
        apt-get install -y -qq --no-install-recommends slurm-wlm munge >>/tmp/slurm-up-apt.log 2>&1 \
            || { tail -20 /tmp/slurm-up-apt.log; cannot "apt-get install slurm-wlm munge failed"; }
    fi
    say "installed slurm-wlm $(dpkg-query -W -f '${Version}' slurm-wlm) in $(($(date +%s) - t0)) s"
fi

# 2. The configuration: this machine as the only node, its CPUs and ~85% of its memory.
cpus=$(nproc)
mem_mb=$(awk '/^MemTotal:/ {print int($2 / 1024 * 0.85)}' /proc/meminfo)
wanted=$(cat <<EOF
$MARK: a single-node cluster for tests.
ClusterName=local
SlurmctldHost=localhost
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
StateSaveLocation=$SPOOL_CTLD
SlurmdSpoolDir=$SPOOL_D
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=$LOGS/slurmctld.log
SlurmdLogFile=$LOGS/slurmd.log
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
)
reconfigured=false
if [[ -e $CONF ]] && ! grep -qF "$MARK" "$CONF"; then
    cannot "$CONF exists and was not written by this script; not touching a site's Slurm"
fi
if [[ ! -e $CONF || $(cat "$CONF") != "$wanted" ]]; then
    mkdir -p "$(dirname "$CONF")"
    printf '%s\n' "$wanted" >"$CONF.tmp" && mv "$CONF.tmp" "$CONF"
    say "wrote $CONF (node $NODE: CPUs=$cpus RealMemory=$mem_mb)"
    reconfigured=true
fi
mkdir -p "$LOGS" "$SPOOL_CTLD" "$SPOOL_D"

# 3. munge: its key (the package makes one), its socket directory, the daemon.
if [[ ! -s /etc/munge/munge.key ]]; then
    if command -v mungekey >/dev/null; then mungekey --create; else create-munge-key -f; fi
    say "created /etc/munge/munge.key"
fi
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    install -d -o munge -g munge -m 0755 /run/munge
    runuser -u munge -- /usr/sbin/munged || broken "munged did not start"
    for _ in $(seq 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
    munge -n | unmunge >/dev/null || broken "munge does not answer"
    say "started munged"
fi

# 4. The daemons; a changed configuration restarts the ones already running (their pids only).
for daemon in slurmctld slurmd; do
    if $reconfigured && running "$daemon"; then
        pid=$(cat "/run/$daemon.pid")
        kill "$pid"
        for _ in $(seq 100); do [[ -e /proc/$pid ]] || break; sleep 0.1; done
        say "stopped $daemon (pid $pid) for the new configuration"
    fi
done
if ! running slurmctld; then
    slurmctld || broken "slurmctld did not start (see $LOGS/slurmctld.log)"
    say "started slurmctld"
fi
for _ in $(seq 100); do scontrol ping 2>/dev/null | grep -q UP && break; sleep 0.2; done
scontrol ping | grep -q UP || broken "slurmctld does not answer (see $LOGS/slurmctld.log)"
if ! running slurmd; then
    slurmd -N "$NODE" || broken "slurmd did not start (see $LOGS/slurmd.log)"
    say "started slurmd"
fi

# 5. Wait for the node; one that an earlier run left down or drained is resumed once.
resumed=false
for _ in $(seq 120); do
    state=$(node_state)
    [[ $state == idle ]] && break
    if ! $resumed && [[ $state == down* || $state == drain* ]]; then
        scontrol update NodeName="$NODE" State=RESUME && say "resumed node $NODE (was $state)"
        resumed=true
    fi
    sleep 0.5
done
[[ $(node_state) == idle ]] || broken "node $NODE is '$(node_state)', not idle (see $LOGS/)"
job_runs || broken "node $NODE is idle but srun cannot run a job there (see $LOGS/)"
say "up: node $NODE idle, partition debug; $(sinfo --version); $(($(date +%s) - started)) s"
