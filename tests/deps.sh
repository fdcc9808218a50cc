#!/bin/sh
# tests/deps.sh - install the Debian 12 packages needed to build libtlspol
# and run its whole test suite.  Idempotent: runs apt-get only when a
# package is missing.  Needs root.
set -eu

PKGS="meson ninja-build pkg-config gcc g++ clang
libgetdns-dev libcurl4-openssl-dev libssl-dev libidn2-dev libyaml-dev
libcriterion-dev libsqlite3-dev dns-root-data
nsd ldnsutils unbound nginx-light iproute2 openssl curl python3 procps python3-dnspython
postfix redis-server libhiredis-dev python3-setuptools python3-wheel python3-pip"

missing=
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
        grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
# Postfix: no debconf prompt and no configuration, so its postinst writes
# no main.cf and starts no system Postfix. The test network runs its own
# instance inside its namespace (tests/net/netup.sh).
echo "postfix postfix/main_mailer_type select No configuration" |
    debconf-set-selections
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
