#!/bin/bash
# netdown.sh STATEDIR - tear down what netup.sh STATEDIR started.
#
# Stops the services by their pid files in STATEDIR (after checking that
# each pid still belongs to one of them), then any process still left in
# the test namespace (a run killed half-way), deletes the namespace and
# its /etc/netns/<ns>/resolv.conf. Files in STATEDIR are kept. Safe to run
# twice, after a partial setup, or on a STATEDIR that never existed.
# The namespace name comes from STATEDIR/env if present, else from
# ${TLSPOL_NETNS:-tlspol-test}.
set -euo pipefail

[[ $# -eq 1 && -n $1 ]] || { echo "usage: netdown.sh STATEDIR" >&2; exit 2; }
[[ $EUID -eq 0 ]] || { echo "netdown: must run as root" >&2; exit 1; }
state=$1

ns=${TLSPOL_NETNS:-tlspol-test}
if [[ -r $state/env ]]; then
    saved=$(sed -n 's/^export TLSPOL_NETNS=//p' "$state/env")
    [[ -n $saved ]] && ns=$saved
fi
[[ $ns =~ ^[A-Za-z0-9_.-]+$ ]] || { echo "netdown: bad ns $ns" >&2; exit 1; }

ns_exists() { [[ -e /run/netns/$ns ]]; }

# ours PID COMM: PID (from a pid file) is still one of our services: it
# runs in our namespace, or (namespace already gone) it is named COMM and
# lives in a network namespace other than the machine's.
ours() {
    local comm netns
    comm=$(cat "/proc/$1/comm" 2>/dev/null) || return 1
    if ns_exists; then
        [[ $(ip netns identify "$1" 2>/dev/null) == "$ns" ]]
        return
    fi
    netns=$(readlink "/proc/$1/ns/net" 2>/dev/null) || return 1
    [[ $comm == "$2" && $netns != "$(readlink /proc/self/ns/net)" ]]
}

pids=()
while read -r pidfile comm; do
    [[ -r $pidfile ]] || continue
    pid=$(head -n 1 -- "$pidfile" 2>/dev/null || true)
    pid=${pid//[[:space:]]/}            # Postfix pads its pid with blanks
    if [[ $pid =~ ^[0-9]+$ ]] && ours "$pid" "$comm"; then
        pids+=("$pid")
    fi
    rm -f -- "$pidfile"
done <<EOF
$state/slow/slowhttps.pid python3
$state/proxy/strip.pid python3
$state/proxy/notcp.pid python3
$state/nginx/nginx.pid nginx
$state/unbound/unbound.pid unbound
$state/nsd/nsd.pid nsd
$state/postfix/queue/pid/master.pid master
EOF

# Anything else inside the namespace (children, leftovers of a killed run).
if ns_exists; then
    while read -r pid; do
        [[ $pid =~ ^[0-9]+$ && $pid != "$$" ]] && pids+=("$pid")
    done < <(ip netns pids "$ns" 2>/dev/null || true)
fi

# alive PID...: print the PIDs that still run (zombies count as gone: the
# init of a container may reap orphans late).
alive() {
    local p st
    for p in "$@"; do
        st=$(cat "/proc/$p/stat" 2>/dev/null) || continue
        st=${st##*) }                   # the field after "(comm)"
        [[ ${st%% *} != Z ]] && printf '%s\n' "$p"
    done
    return 0
}

if ((${#pids[@]})); then
    mapfile -t pids < <(printf '%s\n' "${pids[@]}" | sort -un)
    kill -TERM "${pids[@]}" 2>/dev/null || true
    for _ in $(seq 50); do                       # up to 5 s
        mapfile -t pids < <(alive "${pids[@]}")
        [[ -z ${pids[*]} ]] && break
        sleep 0.1
    done
    if [[ -n ${pids[*]} ]]; then
        echo "netdown: killing stubborn pids ${pids[*]}" >&2
        kill -KILL "${pids[@]}" 2>/dev/null || true
    fi
fi

if ns_exists; then
    ip netns delete "$ns"
fi
rm -f -- "/etc/netns/$ns/resolv.conf"
rmdir -- "/etc/netns/$ns" 2>/dev/null || true
rm -f -- "$state/unbound/unbound.ctl"
echo "netdown: namespace $ns down"
