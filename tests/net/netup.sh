#!/bin/bash
# netup.sh STATEDIR - bring up libtlspol's hermetic test network.
#
# Creates network namespace ${TLSPOL_NETNS:-tlspol-test} and, inside it,
# a private DNSSEC-signed root and test. zone (NSD on 127.0.0.2), a
# validating resolver (Unbound on 127.0.0.1), the MTA-STS policy hosts
# (nginx on 127.0.1.1:443) and a stalling HTTPS server (slowhttps.py on
# 127.0.1.2:443), and two faulty resolver paths in front of Unbound for
# the library's resolver self-test (dnsproxy.py: "strip" on 127.0.0.3,
# "notcp" on 127.0.0.4), and SMTP servers with STARTTLS on the MX hosts
# (one Postfix instance, one smtpd per address 127.0.2.N:25, logging to
# STATEDIR/postfix/maillog). Keys, certificates (also those of the MX
# hosts, in STATEDIR/mx), TLSA data and zones are made fresh each time;
# every file, pid and log lives in STATEDIR. Idempotent: whatever an
# earlier run left (in STATEDIR or in the namespace) is torn down first.
# Writes STATEDIR/env (shell "export" lines) and returns once Unbound
# answers a DNSSEC-validated query, the policy host serves a policy and
# an MX host's smtpd completes a verified STARTTLS handshake.
# The scenarios are in gen.py; README.md describes them.
#
# The machine's own /etc/resolv.conf and trust store are never touched:
# the namespace gets /etc/netns/$NS/resolv.conf, which "ip netns exec"
# bind-mounts over /etc/resolv.conf for the commands it runs.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly here
timeout=${TLSPOL_NET_TIMEOUT:-10}       # seconds per service

die() { printf 'netup: error: %s\n' "$*" >&2; exit 1; }

# die_log NAME LOGFILE...: a service failed; show the end of its logs and
# stop.
die_log() {
    printf 'netup: error: %s did not come up; last lines of %s:\n' \
        "$1" "${*:2}" >&2
    tail -n 25 -- "${@:2}" >&2 2>/dev/null || printf '  (no log)\n' >&2
    exit 1
}

[[ $# -eq 1 && -n $1 ]] || { echo "usage: netup.sh STATEDIR" >&2; exit 2; }
[[ $EUID -eq 0 ]] || die "must run as root (network namespaces)"
for tool in ip openssl ldns-keygen ldns-signzone nsd nsd-checkconf \
    unbound unbound-checkconf nginx drill python3 setsid curl postfix \
    runuser; do
    command -v "$tool" >/dev/null || die "missing tool: $tool"
done
# dnsproxy.py needs dnspython (Debian: python3-dnspython), in Debian's
# python3; the python3 first on PATH may be another installation (pyenv)
# without it. $py runs dnsproxy.py and gen.py.
py=
for cand in /usr/bin/python3 python3; do
    if "$cand" -c 'import importlib.util as u, sys
sys.exit(u.find_spec("dns") is None)' 2>/dev/null; then
        py=$cand
        break
    fi
done
[[ -n $py ]] || die "missing python3 module dns (package python3-dnspython)"
readonly py

mkdir -p -- "$1"
state=$(cd -- "$1" && pwd)
readonly state
# Postfix's master and daemons open files below STATEDIR/postfix as the
# user postfix, so that user must be able to pass through STATEDIR
# (mktemp -d makes it 0700) and its parents. 0711: search, no listing;
# the private keys in it stay 0600.
chmod go+x -- "$state"
runuser -u postfix -- test -x "$state/." ||
    die "the user postfix cannot reach $state (check its parent directories)"
ns=${TLSPOL_NETNS:-tlspol-test}
readonly ns
[[ $ns =~ ^[A-Za-z0-9_.-]+$ ]] || die "bad namespace name: $ns"

in_ns() { ip netns exec "$ns" "$@"; }
# OpenSSL 3's x509 and ca commands load the default trust store (here the
# whole system bundle) at start. Nothing here verifies a chain, so give
# them an empty one: that halves the time setup spends on certificates.
openssl() {
    SSL_CERT_FILE=/dev/null SSL_CERT_DIR=/nonexistent command openssl "$@"
}

start_time=$EPOCHREALTIME

# --- 0. Tear down leftovers, clear generated state ----------------------
# What STATEDIR last ran (its env names the namespace), then a leftover
# namespace of our name from a run killed elsewhere.
TLSPOL_NETNS=$ns "$here/netdown.sh" "$state" >/dev/null
if [[ -e /run/netns/$ns ]]; then
    TLSPOL_NETNS=$ns "$here/netdown.sh" "$state/no-such-statedir" >/dev/null
fi
rm -rf -- "$state/dns" "$state/pki" "$state/www" "$state/nginx" \
    "$state/nsd" "$state/unbound" "$state/slow" "$state/certs.tsv" \
    "$state/ca.pem" "$state/ca.key" "$state/rogue-ca.pem" \
    "$state/rogue-ca.key" "$state/root.ds" "$state/root.key" "$state/env" \
    "$state/mx" "$state/proxy" "$state/wrong-root.ds" "$state/postfix"

# --- 1. Namespace --------------------------------------------------------
ip netns add "$ns"
ip -n "$ns" link set lo up
mkdir -p "/etc/netns/$ns"
printf 'nameserver 127.0.0.1\n' >"/etc/netns/$ns/resolv.conf"

write_env() {
    {
        printf 'export TLSPOL_NETNS=%q\n' "$ns"
        printf 'export TLSPOL_TEST_RESOLVER=%q\n' 127.0.0.1
        printf 'export TLSPOL_TEST_TA=%q\n' "$state/root.ds"
        printf 'export TLSPOL_TEST_CA=%q\n' "$state/ca.pem"
        printf 'export TLSPOL_TEST_STATEDIR=%q\n' "$state"
        printf 'export TLSPOL_TEST_STRIP_RESOLVER=%q\n' 127.0.0.3
        printf 'export TLSPOL_TEST_NOTCP_RESOLVER=%q\n' 127.0.0.4
        printf 'export TLSPOL_TEST_WRONG_TA=%q\n' "$state/wrong-root.ds"
        printf 'export TLSPOL_TEST_BOGUS_NAME=%q\n' selftest-bogus.test
        printf 'export TLSPOL_TEST_SMTP=%q\n' 1
        printf 'export TLSPOL_TEST_MAILLOG=%q\n' "$state/postfix/maillog"
    } >"$state/env.tmp"
    mv -- "$state/env.tmp" "$state/env"
}
write_env       # now, so that netdown.sh finds the namespace on failure

# --- 2. Zones, policy bodies, nginx.conf, certificate list ---------------
"$py" "$here/gen.py" "$state"

# --- 3. PKI: test CA, rogue CA, leaf certificates ------------------------
pki=$state/pki
mkdir -p "$pki/ca-db" "$state/mx"

# new_ca NAME CN: self-signed P-256 CA, STATEDIR/NAME.{pem,key}
new_ca() {
    openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
        -nodes -keyout "$state/$1.key" -out "$state/$1.pem" -days 30 \
        -subj "/O=libtlspol tests/CN=$2" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}
new_ca ca "libtlspol test CA"
new_ca rogue-ca "libtlspol rogue CA (not trusted)"

# The extensions of every leaf certificate; new_leaf adds the SAN.
cat >"$pki/leaf.cnf" <<EOF
[ req ]
distinguished_name = dn
[ dn ]
[ leaf ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
# openssl ca is the only OpenSSL 3.0 way to set a notBefore in the past.
: >"$pki/ca-db/index.txt"
cat >"$pki/ca-db/openssl.cnf" <<EOF
[ ca ]
default_ca = test_ca
[ test_ca ]
database = $pki/ca-db/index.txt
new_certs_dir = $pki/ca-db
serial = $pki/ca-db/serial
default_md = sha256
policy = policy_any
unique_subject = no
copy_extensions = copy
[ policy_any ]
commonName = supplied
EOF
openssl rand -hex 8 >"$pki/ca-db/serial"

# new_leaf NAME ISSUER SAN DIR: P-256 key, serverAuth cert with one DNS
# SAN, as STATEDIR/DIR/NAME.{key,pem}, valid for 30 days. ISSUER: "test"
# or "rogue" (that CA), "test-chain" (test CA; also writes NAME.chain.pem,
# the leaf followed by the test CA), "self" (self-signed) or "expired"
# (test CA, valid from 60 to 30 days ago). One openssl run per
# certificate (req -x509 -CA), except for "expired".
new_leaf() {
    local name=$1 issuer=$2 san=$3 base=$state/$4/$1
    local req=(openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256
        -nodes -keyout "$base.key" -subj "/CN=$san" -config "$pki/leaf.cnf"
        -addext "subjectAltName=DNS:$san")
    local x509=(-x509 -extensions leaf -days 30 -out "$base.pem"
        -set_serial "$(printf '0x%08x%08x' "$SRANDOM" "$SRANDOM")")
    case $issuer in
    test | test-chain)
        "${req[@]}" "${x509[@]}" -CA "$state/ca.pem" \
            -CAkey "$state/ca.key" 2>/dev/null ;;
    rogue)
        "${req[@]}" "${x509[@]}" -CA "$state/rogue-ca.pem" \
            -CAkey "$state/rogue-ca.key" 2>/dev/null ;;
    self) "${req[@]}" "${x509[@]}" 2>/dev/null ;;
    expired)
        "${req[@]}" -out "$base.csr" 2>/dev/null &&
            openssl ca -batch -notext -config "$pki/ca-db/openssl.cnf" \
                -cert "$state/ca.pem" -keyfile "$state/ca.key" \
                -in "$base.csr" -out "$base.pem" \
                -extfile "$pki/leaf.cnf" -extensions leaf \
                -startdate "$(date -u -d '-60 days' +%Y%m%d%H%M%SZ)" \
                -enddate "$(date -u -d '-30 days' +%Y%m%d%H%M%SZ)" 2>/dev/null
        ;;
    *) die "unknown issuer '$issuer' for $name" ;;
    esac || return
    rm -f -- "$base.csr"
    if [[ $issuer == test-chain ]]; then
        cat -- "$base.pem" "$state/ca.pem" >"$base.chain.pem"
    fi
}
# All at once: each is independent (one "expired" at most uses ca-db).
pids=()
names=()
while IFS=$'\t' read -r name issuer san dir; do
    new_leaf "$name" "$issuer" "$san" "$dir" &
    pids+=("$!")
    names+=("$name")
done <"$state/certs.tsv"
for i in "${!pids[@]}"; do
    wait "${pids[i]}" || die "could not issue the certificate ${names[i]}"
done

# --- 3b. TLSA association data from the real certificates ----------------
# gen.py left placeholders %%KIND:FILE%% in the zones; replace each with
# what openssl computes from STATEDIR/FILE.
# tlsa_data KIND FILE: print the hex association data. PEM to DER is
# plain base64 (one openssl run per placeholder keeps setup fast).
tlsa_data() {
    case $1 in
    spki-sha256 | spki-sha512)
        openssl x509 -in "$state/$2" -noout -pubkey | sed '/^-----/d' |
            base64 -d | "${1#spki-}sum" ;;
    cert-sha256)
        sed -n '/^-----BEGIN/,/^-----END/p' "$state/$2" | sed '/^-----/d' |
            base64 -d | sha256sum ;;
    *) die "unknown TLSA placeholder kind '$1'" ;;
    esac | cut -d ' ' -f 1
}
: >"$state/dns/tlsa.sed"
while IFS=: read -r kind file; do
    data=$(tlsa_data "$kind" "$file") || data=
    [[ $data =~ ^[0-9a-f]{64}([0-9a-f]{64})?$ ]] ||
        die "no TLSA data for $kind of $file"
    printf 's|%%%%%s:%s%%%%|%s|g\n' "$kind" "${file//./\\.}" "$data" \
        >>"$state/dns/tlsa.sed"
done < <(grep -ohE '%%[a-z0-9-]+:[^%]+%%' "$state"/dns/*.zone |
    tr -d % | sort -u)
sed -i -f "$state/dns/tlsa.sed" "$state"/dns/*.zone
if grep -l '%%' "$state"/dns/*.zone >&2; then
    die "TLSA placeholders left in the zone files above"
fi

# --- 3c. Postfix: the SMTP servers on 127.0.2.N:25 ------------------------
# One instance with its own configuration directory (gen.py wrote
# postfix/conf/main.cf and master.cf), master as root, daemons as user
# postfix, all inside the namespace. "postfix start" creates and checks
# the queue (0.3 s), so it runs in the background while the zones are
# signed; step 10 waits for it.
pf=$state/postfix
in_ns postfix -c "$pf/conf" start </dev/null >"$pf/start.log" 2>&1 &
pf_start=$!

# --- 4. DNSSEC: keys, signatures, DS chain, trust anchor -----------------
dns=$state/dns
now=$(date +%s)
# keygen ZONE [-k]: print the key's base name (K<zone>+013+<tag>)
keygen() { (cd "$dns" && ldns-keygen -a ECDSAP256SHA256 "${@:2}" "$1"); }
# sign NAME KEY...: write dns/NAME.zone.signed, valid from 1 h ago for
# 30 days, then break the RRSIGs that dns/sigfaults.tsv (from gen.py)
# lists for NAME. "expire" faults take their RRSIG from a second signing,
# dns/NAME.zone.past.signed, valid from 60 to 30 days ago.
sign() {
    local zone=$dns/$1.zone keys=("${@:2}")
    ldns-signzone -i "$((now - 3600))" -e "$((now + 30 * 86400))" \
        -f "$zone.signed" "$zone" "${keys[@]/#/$dns/}"
    if grep -q "^$1"$'\t.*\texpire$' "$dns/sigfaults.tsv"; then
        ldns-signzone -i "$((now - 60 * 86400))" -e "$((now - 30 * 86400))" \
            -f "$zone.past.signed" "$zone" "${keys[@]/#/$dns/}"
    fi
    if grep -q "^$1"$'\t' "$dns/sigfaults.tsv"; then
        "$py" "$here/gen.py" --break-sigs "$state" "$1"
    fi
}
test_ksk=$(keygen test -k)
test_zsk=$(keygen test)
sign test "$test_ksk" "$test_zsk"
root_ksk=$(keygen . -k)
root_zsk=$(keygen .)
# The root is caught mid-rollover, as the real one often is: a standby KSK
# that also signs the DNSKEY RRset, and a pre-published next ZSK. That
# makes ". DNSKEY" with DNSSEC records 532 octets, over 512 like the real
# root's (about 1.1 KB with RSA keys), so the notcp proxy truncates it.
root_ksk2=$(keygen . -k)
root_zsk2=$(keygen .)
sed 's/[[:space:]]*;.*$//' "$dns/$root_zsk2.key" >>"$dns/root.zone"
cat "$dns/$test_ksk.ds" >>"$dns/root.zone"        # "test. IN DS ..."
sign root "$root_ksk" "$root_zsk" "$root_ksk2"
cp -- "$dns/$root_ksk.ds" "$state/root.ds"          # ". IN DS ..."
sed 's/[[:space:]]*;.*$//' "$dns/$root_ksk.key" >"$state/root.key"
grep -q 'IN[[:space:]]*DS' "$state/root.ds" || die "no root DS generated"
# A well-formed root DS that matches no key: the root KSK's key tag and
# algorithm, SHA-256 digest of random bytes.
read -r tag alg < <(awk '{ for (i = 1; i < NF; i++) if ($i == "DS") {
    print $(i + 1), $(i + 2); exit } }' "$state/root.ds") ||
    die "cannot parse $state/root.ds"
printf '.\tIN\tDS\t%s %s 2 %s\n' "$tag" "$alg" \
    "$(openssl rand -hex 32)" >"$state/wrong-root.ds"

# --- 5. NSD: authoritative for ".", "test.", "insecure.test." ------------
mkdir -p "$state/nsd"
cat >"$state/nsd/nsd.conf" <<EOF
server:
    ip-address: 127.0.0.2
    port: 53
    do-ip6: no
    username: ""
    chroot: ""
    zonesdir: "$dns"
    database: ""
    zonelistfile: "$state/nsd/zone.list"
    xfrdfile: "$state/nsd/xfrd.state"
    xfrdir: "$state/nsd"
    pidfile: "$state/nsd/nsd.pid"
    logfile: "$state/nsd/nsd.log"
    server-count: 1
    verbosity: 1
    hide-version: yes
remote-control:
    control-enable: no
zone:
    name: "."
    zonefile: "root.zone.signed"
zone:
    name: "test."
    zonefile: "test.zone.signed"
zone:
    name: "insecure.test."
    zonefile: "insecure.test.zone"
EOF
nsd-checkconf "$state/nsd/nsd.conf" >"$state/nsd/nsd.log" 2>&1 ||
    die_log nsd-checkconf "$state/nsd/nsd.log"
in_ns nsd -c "$state/nsd/nsd.conf" >>"$state/nsd/nsd.log" 2>&1 ||
    die_log nsd "$state/nsd/nsd.log"

# --- 6. Unbound: validating resolver -------------------------------------
ub=$state/unbound
mkdir -p "$ub"
cat >"$ub/unbound.conf" <<EOF
server:
    interface: 127.0.0.1
    port: 53
    do-ip6: no
    do-daemonize: yes
    num-threads: 1
    # bursts of hundreds of queries (DNSSEC chains) overflow the default
    # 208 KiB UDP receive buffer and getdns does not retransmit
    so-rcvbuf: 4m
    username: ""
    chroot: ""
    directory: "$ub"
    pidfile: "$ub/unbound.pid"
    logfile: "$ub/unbound.log"
    use-syslog: no
    verbosity: 1
    module-config: "validator iterator"
    val-log-level: 2
    access-control: 127.0.0.0/8 allow
    do-not-query-localhost: no
    trust-anchor-file: "$state/root.ds"
    trust-anchor-signaling: no
    root-key-sentinel: no
    local-zone: "test." nodefault
    # dane-tlsa-servfail.test delegates to 127.0.0.99, where nothing
    # listens. With the default 2 min cap on the retransmit timeout the
    # first lookup there outlives discard-timeout (1.9 s) and the client
    # gets no reply at all; with 500 ms Unbound gives up and answers
    # SERVFAIL after about 0.8 s. Local servers answer in microseconds.
    infra-cache-max-rtt: 500
    infra-keep-probing: yes
stub-zone:
    name: "."
    stub-addr: 127.0.0.2
remote-control:
    control-enable: yes
    control-interface: "$ub/unbound.ctl"
    control-use-cert: no
EOF
unbound-checkconf "$ub/unbound.conf" >"$ub/unbound.log" 2>&1 ||
    die_log unbound-checkconf "$ub/unbound.log"
in_ns unbound -c "$ub/unbound.conf" >>"$ub/unbound.log" 2>&1 ||
    die_log unbound "$ub/unbound.log"

# --- 7. nginx: the policy hosts on 127.0.1.1:443 -------------------------
ngx=$state/nginx
in_ns nginx -p "$ngx/" -e "$ngx/error.log" -c "$ngx/nginx.conf" \
    >"$ngx/start.log" 2>&1 || die_log nginx "$ngx/start.log"

# --- 8. slowhttps.py on 127.0.1.2:443 ------------------------------------
mkdir -p "$state/slow"
in_ns setsid -f python3 "$here/slowhttps.py" --addr 127.0.1.2 --port 443 \
    --cert "$pki/mta-sts.slow.test.pem" --key "$pki/mta-sts.slow.test.key" \
    --body "$state/www/mta-sts.slow.test.txt" \
    --pidfile "$state/slow/slowhttps.pid" \
    </dev/null >"$state/slow/slowhttps.log" 2>&1

# --- 9. dnsproxy.py: faulty resolver paths in front of Unbound ----------
mkdir -p "$state/proxy"
for spec in strip:127.0.0.3 notcp:127.0.0.4; do
    in_ns setsid -f "$py" "$here/dnsproxy.py" --mode "${spec%%:*}" \
        --addr "${spec#*:}" --upstream 127.0.0.1 \
        --pidfile "$state/proxy/${spec%%:*}.pid" \
        </dev/null >"$state/proxy/${spec%%:*}.log" 2>&1
done

# --- 10. Wait until everything answers ------------------------------------
# wait_for NAME LOG CMD...: retry CMD every 0.1 s for $timeout seconds.
wait_for() {
    local name=$1 log=$2 deadline
    shift 2
    deadline=$(($(date +%s) + timeout))
    until "$@" >/dev/null 2>&1; do
        (($(date +%s) < deadline)) || die_log "$name" "$log"
        sleep 0.1
    done
}
tcp_open() { in_ns bash -c "exec 3<>/dev/tcp/$1/$2"; }
# drill_ok FLAG SERVER NAME TYPE [drill options]: NOERROR, header flag FLAG
drill_ok() {
    local out
    out=$(in_ns drill "${@:5}" "$3" "$4" "@$2") || return 1
    grep -q 'rcode: NOERROR' <<<"$out" &&
        grep -Eq ";; flags:.* $1[ ;]" <<<"$out"
}

wait_for nsd "$state/nsd/nsd.log" drill_ok aa 127.0.0.2 . SOA
wait "$pf_start" || die_log postfix "$pf/start.log" "$pf/maillog"
wait_for nginx "$ngx/error.log" tcp_open 127.0.1.1 443
wait_for slowhttps.py "$state/slow/slowhttps.log" \
    test -s "$state/slow/slowhttps.pid"
wait_for slowhttps.py "$state/slow/slowhttps.log" tcp_open 127.0.1.2 443
for mode in strip notcp; do
    wait_for "dnsproxy.py $mode" "$state/proxy/$mode.log" \
        test -s "$state/proxy/$mode.pid"
done
# A validated (AD) answer proves the whole chain: root DS anchor ->
# root DNSKEY -> test. DS -> test. DNSKEY -> enforce.test MX.
wait_for "unbound (validated answer for enforce.test MX)" "$ub/unbound.log" \
    drill_ok ad 127.0.0.1 enforce.test MX -D
# The proxies forward to Unbound.
wait_for "dnsproxy.py strip" "$state/proxy/strip.log" \
    drill_ok qr 127.0.0.3 enforce.test MX
wait_for "dnsproxy.py notcp" "$state/proxy/notcp.log" \
    drill_ok qr 127.0.0.4 enforce.test MX
# End to end: the namespace's resolv.conf, Unbound, nginx and the test CA.
wait_for "nginx (policy fetch of mta-sts.enforce.test)" "$ngx/error.log" \
    in_ns curl -fsS --max-time 2 --cacert "$state/ca.pem" \
    https://mta-sts.enforce.test/.well-known/mta-sts.txt
# ... and an SMTP server: the MX name through Unbound, STARTTLS, a chain
# that verifies against the test CA for the host name.
smtp_ok() {
    in_ns env SSL_CERT_FILE=/dev/null SSL_CERT_DIR=/nonexistent \
        timeout 5 openssl s_client -brief -starttls smtp \
        -connect "$1:25" -servername "$1" -CAfile "$state/ca.pem" \
        -verify_hostname "$1" -verify_return_error </dev/null
}
wait_for "postfix (STARTTLS on mx1.enforce.test:25)" "$pf/maillog" \
    smtp_ok mx1.enforce.test

elapsed=$(awk -v a="$start_time" -v b="$EPOCHREALTIME" \
    'BEGIN { printf "%.1f", b - a }')
printf 'netup: network "%s" up in %s s; state in %s (source %s/env)\n' \
    "$ns" "$elapsed" "$state" "$state" >&2
