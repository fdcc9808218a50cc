#!/bin/bash
# with-net.sh CMD [ARG...] - run CMD inside libtlspol's test network.
#
# Brings the network up (netup.sh) in a fresh temporary STATEDIR, or in
# $TLSPOL_TEST_STATEDIR if that is set (the directory is then kept), runs
# CMD inside the namespace with the variables of STATEDIR/env set
# (TLSPOL_NETNS, TLSPOL_TEST_RESOLVER, TLSPOL_TEST_TA, TLSPOL_TEST_CA,
# TLSPOL_TEST_STATEDIR, TLSPOL_TEST_STRIP_RESOLVER,
# TLSPOL_TEST_NOTCP_RESOLVER, TLSPOL_TEST_WRONG_TA, TLSPOL_TEST_BOGUS_NAME,
# TLSPOL_TEST_SMTP, TLSPOL_TEST_MAILLOG),
# tears everything down on every exit path and exits with CMD's status
# (128+n if killed by signal n).
# TLSPOL_KEEP_NET=1 leaves the network up and prints the STATEDIR.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly here

if [[ $# -eq 0 ]]; then
    echo "usage: with-net.sh CMD [ARG...]" >&2
    exit 2
fi

if [[ -n ${TLSPOL_TEST_STATEDIR:-} ]]; then
    state=$TLSPOL_TEST_STATEDIR
    own_state=0
else
    state=$(mktemp -d "${TMPDIR:-/tmp}/tlspol-net.XXXXXX")
    own_state=1
fi
child=
cleaned=0

# shellcheck disable=SC2317  # cleanup and on_signal run from traps
cleanup() {
    ((cleaned)) && return
    cleaned=1
    if [[ -n $child ]] && kill -0 "$child" 2>/dev/null; then
        kill -TERM "$child" 2>/dev/null || true
        wait "$child" 2>/dev/null || true
    fi
    if [[ ${TLSPOL_KEEP_NET:-0} == 1 ]]; then
        printf 'with-net: TLSPOL_KEEP_NET=1: network left up.\n' >&2
        printf '  state:     %s\n  env:       . %s/env\n' \
            "$state" "$state" >&2
        printf '  tear down: %s/netdown.sh %s\n' "$here" "$state" >&2
        printf '%s\n' "$state"
        return
    fi
    "$here/netdown.sh" "$state" >/dev/null ||
        echo "with-net: warning: netdown.sh failed for $state" >&2
    if ((own_state)); then
        rm -rf -- "$state"
    fi
}
# shellcheck disable=SC2317
on_signal() {
    trap '' INT TERM
    cleanup
    exit $((128 + $1))
}
trap 'cleanup' EXIT
trap 'on_signal 2' INT
trap 'on_signal 15' TERM

"$here/netup.sh" "$state"

# shellcheck source=/dev/null
. "$state/env"
# Run CMD in the background so that a signal reaches our trap at once
# (bash defers traps until a foreground child exits); keep its stdin.
ip netns exec "$TLSPOL_NETNS" env \
    TLSPOL_NETNS="$TLSPOL_NETNS" \
    TLSPOL_TEST_RESOLVER="$TLSPOL_TEST_RESOLVER" \
    TLSPOL_TEST_TA="$TLSPOL_TEST_TA" \
    TLSPOL_TEST_CA="$TLSPOL_TEST_CA" \
    TLSPOL_TEST_STATEDIR="$TLSPOL_TEST_STATEDIR" \
    TLSPOL_TEST_STRIP_RESOLVER="$TLSPOL_TEST_STRIP_RESOLVER" \
    TLSPOL_TEST_NOTCP_RESOLVER="$TLSPOL_TEST_NOTCP_RESOLVER" \
    TLSPOL_TEST_WRONG_TA="$TLSPOL_TEST_WRONG_TA" \
    TLSPOL_TEST_BOGUS_NAME="$TLSPOL_TEST_BOGUS_NAME" \
    TLSPOL_TEST_SMTP="$TLSPOL_TEST_SMTP" \
    TLSPOL_TEST_MAILLOG="$TLSPOL_TEST_MAILLOG" \
    "$@" 0<&0 &
child=$!
status=0
wait "$child" || status=$?
child=
exit "$status"
