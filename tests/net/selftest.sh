#!/bin/bash
# selftest.sh - check that the test network serves what README.md says.
#
# Run inside the namespace with the network up, normally as
#     tests/net/with-net.sh tests/net/selftest.sh
# Uses only drill and curl (no libtlspol). Prints one line per check and
# exits non-zero if any check fails.
set -euo pipefail

if [[ -z ${TLSPOL_TEST_RESOLVER:-} ]]; then
    echo "selftest: no test network (run me through with-net.sh)" >&2
    [[ ${TLSPOL_REQUIRE_NET:-0} == 1 ]] && exit 1
    exit 77 # meson: skipped
fi
: "${TLSPOL_TEST_CA:?}" "${TLSPOL_TEST_STATEDIR:?}"
state=$TLSPOL_TEST_STATEDIR
res=$TLSPOL_TEST_RESOLVER
fails=0
tmp=$(mktemp -d)
trap 'rm -rf -- "$tmp"' EXIT

ok() { printf 'ok    %s\n' "$*"; }
# OpenSSL 3's x509 loads the default trust store (the whole system
# bundle) at start; no check here uses it, and this halves their time.
openssl() {
    SSL_CERT_FILE=/dev/null SSL_CERT_DIR=/nonexistent command openssl "$@"
}
bad() { printf 'FAIL  %s\n' "$*"; fails=$((fails + 1)); }

# ---- DNS ------------------------------------------------------------------
# dns NAME TYPE RCODE AD COUNT [PATTERN]: ask Unbound with DO set; expect
# RCODE, the AD flag (yes/no), COUNT answer RRs of TYPE (RRSIGs not
# counted) and, if given, PATTERN somewhere in those RRs.
dns() { dnsx "$res" -D "$@"; }

# dnsx SERVER OPTS NAME TYPE RCODE AD COUNT [PATTERN]: the same, asking
# SERVER with the drill options OPTS, one word: -D (DO), -Dt (DO, TCP),
# -DoCD (DO and CD: the answer as Unbound got it, unvalidated).
dnsx() {
    local srv=$1 opts=$2 name=$3 type=$4 rcode=$5 ad=$6 count=$7
    local pattern=${8:-} out got_ad=no got_n what="$3 $4"
    [[ $srv == "$res" && $opts == -D ]] || what="$what @$srv $opts"
    out=$(drill "$opts" "$name" "$type" "@$srv" 2>&1) || {
        bad "dns $what: drill failed: $out"
        return
    }
    grep -Eq '^;; flags:.* ad[ ;]' <<<"$out" && got_ad=yes
    got_n=$(awk -v t="$type" '/^;; ANSWER SECTION/ { a = 1; next }
        /^;; / { a = 0 } a && $4 == t { n++ } END { print n + 0 }' <<<"$out")
    if ! grep -q "rcode: $rcode," <<<"$out"; then
        bad "dns $what: want rcode $rcode: $(grep -o 'rcode: [A-Z]*' <<<"$out")"
    elif [[ $got_ad != "$ad" ]]; then
        bad "dns $what: want AD=$ad, got AD=$got_ad"
    elif [[ $got_n != "$count" ]]; then
        bad "dns $what: want $count $type RRs, got $got_n"
    elif [[ -n $pattern ]] && ! grep -Fq -- "$pattern" <<<"$out"; then
        bad "dns $what: no '$pattern' in answer"
    else
        ok "dns $what: $rcode AD=$ad ${count}x$type${pattern:+ [$pattern]}"
    fi
}

# Independent validation of one answer from the trust anchor, by drill.
chase() {
    if drill -S -k "$state/root.key" "$1" "$2" "@$res" 2>&1 |
        grep -q 'Chase successful'; then
        ok "dns $1 $2: drill -S chase from root.key successful"
    else
        bad "dns $1 $2: drill -S chase from root.key failed"
    fi
}

# ttl NAME TYPE TTL: the authoritative server (NSD) gives NAME/TYPE TTL.
ttl() {
    local got
    got=$(drill "$1" "$2" @127.0.0.2 | awk -v t="$2" \
        '/^;; ANSWER SECTION/ { a = 1; next } a && $4 == t { print $2; exit }')
    if [[ $got == "$3" ]]; then
        ok "dns $1 $2: TTL $3 at NSD"
    else
        bad "dns $1 $2: want TTL $3 at NSD, got '$got'"
    fi
}

v='"v=STSv1; id=20261129T1"'
ttl _mta-sts.enforce.test TXT 300
ttl enforce.test MX 3600
ttl mta-sts.enforce.test A 3600
dns . SOA NOERROR yes 1
dns test. DNSKEY NOERROR yes 2
chase enforce.test MX
chase _mta-sts.split-txt.test TXT
dns enforce.test MX NOERROR yes 1 "10 mx1.enforce.test."
dns mx1.enforce.test A NOERROR yes 1 127.0.2.1
dns _mta-sts.enforce.test TXT NOERROR yes 1 "$v"
dns mta-sts.enforce.test A NOERROR yes 1 127.0.1.1
dns wildcard.test MX NOERROR yes 2 "20 deep.sub.wildcard.test."
dns deep.sub.wildcard.test A NOERROR yes 1
dns multi-mx.test MX NOERROR yes 2
dns _mta-sts.no-txt.test TXT NXDOMAIN yes 0
dns _mta-sts.bad-txt.test TXT NOERROR yes 1 '"v=STSv1; id=bad-id!"'
dns _mta-sts.two-txt.test TXT NOERROR yes 2 '"v=STSv1; id=two2"'
dns _mta-sts.split-txt.test TXT NOERROR yes 1 '"v=STSv1; " "id=split1"'
dns _mta-sts.ext-txt.test TXT NOERROR yes 1 '"v=STSv1; id=ext1; foo=bar"'
dns _mta-sts.cname-txt.test CNAME NOERROR yes 1 _mta-sts.enforce.test.
dns _mta-sts.cname-txt.test TXT NOERROR yes 1 "$v"
dns mta-sts.cname-txt.test A NOERROR yes 1 127.0.1.1
dns mta-sts.slow.test A NOERROR yes 1 127.0.1.2
dns mta-sts.no-addr.test A NOERROR yes 0
dns mta-sts.no-addr.test AAAA NOERROR yes 0
dns nonexistent.test A NXDOMAIN yes 0
dns insecure.test DS NOERROR yes 0
dns insecure.test MX NOERROR no 1 "10 mx1.insecure.test."
dns mx1.insecure.test A NOERROR no 1
dns _mta-sts.insecure.test TXT NOERROR no 1 "$v"

# ---- HTTPS ----------------------------------------------------------------
# https DOMAIN CURL_EXIT HTTP_CODE CONTENT_TYPE SIZE [CA] [MAXTIME]:
# fetch the policy of DOMAIN with curl, check exit status, status code,
# Content-Type and body size ("-" = do not check); a 200 with a complete
# body must equal the file served from STATEDIR/www.
https() {
    local d=$1 want_rc=$2 want_code=$3 want_ct=$4 want_size=$5
    local ca=${6:-$TLSPOL_TEST_CA} maxtime=${7:-5} rc=0 out err
    local url="https://mta-sts.$d/.well-known/mta-sts.txt"
    out=$(curl -sS --cacert "$ca" --max-time "$maxtime" -o "$tmp/body" \
        -w '%{http_code}|%{content_type}|%{size_download}|%{time_total}' \
        "$url" 2>"$tmp/err") || rc=$?
    err=$(head -n 1 "$tmp/err" | cut -c 1-100)
    local code ct size t
    IFS='|' read -r code ct size t <<<"$out"
    local what="https $d: exit $rc, $code, '$ct', $size bytes, ${t}s"
    if [[ $rc != "$want_rc" ]]; then
        bad "$what: want exit $want_rc ($err)"
    elif [[ $want_code != - && $code != "$want_code" ]]; then
        bad "$what: want status $want_code"
    elif [[ $want_ct != - && $ct != "$want_ct" ]]; then
        bad "$what: want Content-Type '$want_ct'"
    elif [[ $want_size != - && $size != "$want_size" ]]; then
        bad "$what: want $want_size bytes"
    elif [[ $rc == 0 && $code == 200 ]] &&
        ! cmp -s "$tmp/body" "$state/www/mta-sts.$d.txt"; then
        bad "$what: body differs from www/mta-sts.$d.txt"
    else
        ok "$what${err:+ ($err)}"
    fi
}
size() { wc -c <"$state/www/mta-sts.$1.test.txt" | tr -d ' '; }

https enforce.test 0 200 "text/plain; charset=utf-8" "$(size enforce)"
for d in testing none wildcard multi-mx mx-mismatch no-txt bad-txt two-txt \
    split-txt ext-txt cname-txt no-version bad-mode big-maxage crlf \
    unknown-keys insecure; do
    https "$d.test" 0 200 text/plain "$(size "$d")"
done
# has DOMAIN yes|no STRING: the fetched body does (not) contain STRING.
has() {
    local got=no shown
    curl -sS --cacert "$TLSPOL_TEST_CA" --max-time 5 -o "$tmp/body" \
        "https://mta-sts.$1/.well-known/mta-sts.txt" 2>/dev/null || true
    grep -Fq -- "$3" "$tmp/body" && got=yes
    shown=$(printf '%q' "$3")
    if [[ $got == "$2" ]]; then
        ok "body $1: contains $shown: $got"
    else
        bad "body $1: contains $shown: want $2, got $got"
    fi
}
def=$'version: STSv1\nmode: enforce\nmx: mx1.enforce.test\nmax_age: 86400\n'
if [[ $(curl -sS --cacert "$TLSPOL_TEST_CA" \
    https://mta-sts.enforce.test/.well-known/mta-sts.txt; echo .) == "$def." ]]
then
    ok "body enforce.test: exactly the default body"
else
    bad "body enforce.test: not the default body"
fi
has testing.test yes $'\nmode: testing\n'
has none.test yes $'\nmode: none\n'
has none.test no 'mx:'
has wildcard.test yes $'\nmx: *.wildcard.test\n'
has multi-mx.test yes $'\nmx: mx1.multi-mx.test\nmx: mx2.multi-mx.test\n'
has mx-mismatch.test yes $'\nmx: mail.elsewhere.test\n'
has cname-txt.test yes $'\nmx: mx1.cname-txt.test\n'
has no-version.test no 'version:'
has bad-mode.test yes $'\nmode: strict\n'
has big-maxage.test yes $'\nmax_age: 9999999999\n'
has crlf.test yes $'version: STSv1\r\nmode: enforce\r\n'
has unknown-keys.test yes $'\nfoo: bar\nx_ext.1: some value\n'
has oversize.test yes $'\nmax_age: 86400\nx-pad: aaaa'
has text-html.test yes $'mode: enforce\n'

https http-404.test 0 404 - -
https redirect.test 0 301 - -
location=$(curl -sS --cacert "$TLSPOL_TEST_CA" -o /dev/null \
    -w '%{redirect_url}' https://mta-sts.redirect.test/.well-known/mta-sts.txt)
if [[ $location == https://mta-sts.enforce.test/.well-known/mta-sts.txt ]]
then
    ok "https redirect.test: Location $location"
else
    bad "https redirect.test: Location '$location'"
fi
https wrong-name.test 60 000 - 0
https unknown-ca.test 60 000 - 0
https unknown-ca.test 0 200 text/plain - "$state/rogue-ca.pem"   # control
https expired-cert.test 60 000 - 0
https text-html.test 0 200 text/html "$(size text-html)"
https oversize.test 0 200 text/plain 70000
https no-addr.test 6 000 - 0
# The slow server: headers at once, one body line, then nothing.
https slow.test 28 200 text/plain 15 "" 2
# ... and a stalled connection does not hold up another one.
curl -sS --cacert "$TLSPOL_TEST_CA" --max-time 4 -o /dev/null \
    https://mta-sts.slow.test/.well-known/mta-sts.txt 2>/dev/null &
bg=$!
sleep 0.3
t=$(curl -sS --cacert "$TLSPOL_TEST_CA" --max-time 1 -o /dev/null \
    -w '%{time_starttransfer}' \
    https://mta-sts.slow.test/.well-known/mta-sts.txt 2>/dev/null || true)
kill "$bg" 2>/dev/null || true
wait "$bg" 2>/dev/null || true
if awk -v t="$t" 'BEGIN { exit !(t > 0 && t < 0.5) }'; then
    ok "https slow.test: 2nd connection got its headers after ${t}s"
else
    bad "https slow.test: 2nd connection, time to first byte '${t}'"
fi
# Certificates as described.
if openssl x509 -in "$state/pki/mta-sts.expired-cert.test.pem" -noout \
    -checkend 0 >/dev/null; then
    bad "pki: expired-cert cert is not expired"
else
    ok "pki: expired-cert cert expired ($(openssl x509 -noout -enddate \
        -in "$state/pki/mta-sts.expired-cert.test.pem"))"
fi

# ---- DANE -----------------------------------------------------------------
# Records and DNSSEC state of every DANE scenario, as Unbound (DO set)
# answers: NAME TYPE RCODE AD COUNT [PATTERN], as for dns above.
while read -r name type rcode ad count pattern; do
    dns "$name" "$type" "$rcode" "$ad" "$count" "$pattern"
done <<'END'
dane-ee.test MX NOERROR yes 1 10 mx1.dane-ee.test.
mx1.dane-ee.test A NOERROR yes 1 127.0.2.30
_25._tcp.mx1.dane-ee.test TLSA NOERROR yes 1 3 1 1
dane-ta.test MX NOERROR yes 1 10 mx1.dane-ta.test.
_25._tcp.mx1.dane-ta.test TLSA NOERROR yes 1 2 0 1
_25._tcp.mx1.dane-unusable.test TLSA NOERROR yes 2
dane-bogus.test MX NOERROR yes 1
mx1.dane-bogus.test A NOERROR yes 1
_25._tcp.mx1.dane-bogus.test TLSA SERVFAIL no 0
dane-expired.test MX NOERROR yes 1
_25._tcp.mx1.dane-expired.test TLSA SERVFAIL no 0
dane-unsigned.insecure.test MX NOERROR no 1 10 mx1.dane-unsigned.insecure.test.
mx1.dane-unsigned.insecure.test A NOERROR no 1 127.0.2.35
_25._tcp.mx1.dane-unsigned.insecure.test TLSA NOERROR no 1 3 1 1
insecure-mx.insecure.test MX NOERROR no 1 10 mx1.dane-ee.test.
dane-cname.test MX NOERROR yes 1 10 mx.dane-cname.test.
mx.dane-cname.test CNAME NOERROR yes 1 mx-target.dane-cname.test.
mx.dane-cname.test A NOERROR yes 1 127.0.2.36
_25._tcp.mx-target.dane-cname.test TLSA NOERROR yes 1 3 1 1
_25._tcp.mx.dane-cname.test TLSA NXDOMAIN yes 0
dane-mixed.test MX NOERROR yes 2 20 mx2.dane-mixed.test.
mx2.dane-mixed.test A NOERROR yes 1 127.0.2.38
_25._tcp.mx1.dane-mixed.test TLSA NOERROR yes 1
_25._tcp.mx2.dane-mixed.test TLSA NXDOMAIN yes 0
dane-sts.test MX NOERROR yes 1 10 mx1.dane-sts.test.
_25._tcp.mx1.dane-sts.test TLSA NOERROR yes 1
_mta-sts.dane-sts.test TXT NOERROR yes 1 "v=STSv1; id=20261129T1"
mta-sts.dane-sts.test A NOERROR yes 1 127.0.1.1
dane-partial-sts.test MX NOERROR yes 2
_25._tcp.mx1.dane-partial-sts.test TLSA NOERROR yes 1
_25._tcp.mx2.dane-partial-sts.test TLSA NXDOMAIN yes 0
_mta-sts.dane-partial-sts.test TXT NOERROR yes 1 "v=STSv1; id=20261129T1"
no-mx.test MX NOERROR yes 0
no-mx.test A NOERROR yes 1 127.0.2.42
_25._tcp.no-mx.test TLSA NOERROR yes 1 3 1 1
null-mx.test MX NOERROR yes 1 MX	0 .
_25._tcp.mx1.dane-malformed.test TLSA NOERROR yes 3
_25._tcp.mx1.dane-sha512.test TLSA NOERROR yes 2 3 1 2
addr-bogus.test MX NOERROR yes 2
mx1.addr-bogus.test A SERVFAIL no 0
mx2.addr-bogus.test A NOERROR yes 1 127.0.2.46
_25._tcp.mx2.addr-bogus.test TLSA NOERROR yes 1
addr-bogus-only.test MX NOERROR yes 1
mx1.addr-bogus-only.test A SERVFAIL no 0
mx-bogus.test MX SERVFAIL no 0
mx1.mx-bogus.test A NOERROR yes 1
selftest-bogus.test A SERVFAIL no 0
mx1.dane-tlsa-servfail.test A NOERROR yes 1 127.0.2.49
_25._tcp.mx1.dane-tlsa-servfail.test DS NOERROR yes 1
END

# The bogus answers: with CD set Unbound hands over the data it got (so
# it is there), and its log says why validation failed (val-log-level 2).
# NAME TYPE REASON
while read -r name type reason; do
    dnsx "$res" -DoCD "$name" "$type" NOERROR no 1
    line="validation failure <$name. $type IN>: $reason"
    if grep -Fq -- "$line" "$state/unbound/unbound.log"; then
        ok "unbound.log: $line"
    else
        bad "unbound.log: no '$line'"
    fi
done <<'END'
_25._tcp.mx1.dane-bogus.test TLSA signature crypto failed
_25._tcp.mx1.dane-expired.test TLSA signature expired
mx1.addr-bogus.test A signature crypto failed
mx1.addr-bogus-only.test A signature crypto failed
mx-bogus.test MX signature crypto failed
selftest-bogus.test A signature crypto failed
END

# The TLSA lookup below the dead delegation: SERVFAIL, well within 2 s.
t0=$EPOCHREALTIME
out=$(drill -D _25._tcp.mx1.dane-tlsa-servfail.test TLSA "@$res" 2>&1 || true)
t=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
if grep -q 'rcode: SERVFAIL,' <<<"$out" &&
    awk -v t="$t" 'BEGIN { exit !(t < 2) }'; then
    ok "dns _25._tcp.mx1.dane-tlsa-servfail.test TLSA: SERVFAIL in ${t}s"
else
    bad "dns _25._tcp.mx1.dane-tlsa-servfail.test TLSA: after ${t}s:" \
        "$(grep -o 'rcode: [A-Z]*' <<<"$out" || head -n 1 <<<"$out")"
fi

# TLSA association data equals what openssl computes from the files.
# Each row: OWNER, then its complete RRset at NSD as comma-separated
# "U S M DATA", DATA as in gen.py: spki-sha256 or spki-sha512 (of the
# certificate STATEDIR/mx/<OWNER without _25._tcp.>.pem), ca-sha256 (of
# the test CA certificate), or random:N (N octets matching none of these).
# hexdigest DATA BASE
hexdigest() {
    case $1 in
    spki-sha256 | spki-sha512)
        openssl x509 -in "$state/mx/$2.pem" -noout -pubkey |
            openssl pkey -pubin -outform DER |
            openssl dgst "-${1#spki-}" -r | cut -d ' ' -f 1 ;;
    ca-sha256)
        openssl x509 -in "$TLSPOL_TEST_CA" -outform DER |
            openssl dgst -sha256 -r | cut -d ' ' -f 1 ;;
    esac
}
while read -r owner rrs; do
    want_rrs=()
    while read -r u sel m data; do
        if [[ $data == random:* ]]; then
            want_rrs+=("$u $sel $m $data")
        else
            want_rrs+=("$u $sel $m $(hexdigest "$data" "${owner#_25._tcp.}")")
        fi
    done < <(tr ',' '\n' <<<"$rrs")
    # What NSD serves; data that is none of the wanted digests counts as
    # random:<its length>.
    got_rrs=()
    while read -r u sel m data; do
        rr="$u $sel $m $data"
        printf '%s\n' "${want_rrs[@]}" | grep -Fxq -- "$rr" ||
            rr="$u $sel $m random:$((${#data} / 2))"
        got_rrs+=("$rr")
    done < <(drill "$owner" TLSA @127.0.0.2 | awk '
        /^;; ANSWER SECTION/ { a = 1; next } /^;; / { a = 0 }
        a && $4 == "TLSA" { print $5, $6, $7, tolower($8) }')
    if [[ $(printf '%s\n' "${want_rrs[@]}" | sort) == \
        "$(printf '%s\n' "${got_rrs[@]}" | sort)" ]]; then
        ok "tlsa $owner: ${#got_rrs[@]} RR(s) as computed by openssl"
    else
        bad "tlsa $owner: want [${want_rrs[*]}], got [${got_rrs[*]}]"
    fi
done <<'END'
_25._tcp.mx1.dane-ee.test 3 1 1 spki-sha256
_25._tcp.mx1.dane-ta.test 2 0 1 ca-sha256
_25._tcp.mx1.dane-unusable.test 0 0 1 ca-sha256, 1 1 1 spki-sha256
_25._tcp.mx1.dane-bogus.test 3 1 1 spki-sha256
_25._tcp.mx1.dane-expired.test 3 1 1 spki-sha256
_25._tcp.mx1.dane-unsigned.insecure.test 3 1 1 spki-sha256
_25._tcp.mx-target.dane-cname.test 3 1 1 spki-sha256
_25._tcp.mx1.dane-mixed.test 3 1 1 spki-sha256
_25._tcp.mx1.dane-sts.test 3 1 1 spki-sha256
_25._tcp.mx1.dane-partial-sts.test 3 1 1 spki-sha256
_25._tcp.no-mx.test 3 1 1 spki-sha256
_25._tcp.mx1.dane-malformed.test 3 1 1 spki-sha256, 3 1 1 random:20, 3 1 2 random:10
_25._tcp.mx1.dane-sha512.test 3 1 1 random:32, 3 1 2 spki-sha512
_25._tcp.mx2.addr-bogus.test 3 1 1 spki-sha256
END

# The MX host keys and certificates in STATEDIR/mx: a P-256 key that
# matches the certificate, issued by the test CA for serverAuth, SAN = the
# host name. One per host with an A record in a DANE scenario.
n=0
for pem in "$state"/mx/*.pem; do
    host=$(basename "$pem" .pem)
    n=$((n + 1))
    key_spki=$(openssl pkey -in "$state/mx/$host.key" -pubout -outform DER |
        openssl dgst -sha256 -r)
    crt_spki=$(openssl x509 -in "$pem" -noout -pubkey |
        openssl pkey -pubin -outform DER | openssl dgst -sha256 -r)
    if ! openssl verify -CAfile "$TLSPOL_TEST_CA" -no-CApath -no-CAstore \
        -purpose sslserver -verify_hostname "$host" "$pem" >/dev/null 2>&1
    then
        bad "mx cert $host: does not verify (test CA, serverAuth, SAN)"
    elif [[ $key_spki != "$crt_spki" ]]; then
        bad "mx cert $host: key does not match the certificate"
    elif ! openssl pkey -in "$state/mx/$host.key" -noout -text |
        grep -q 'NIST CURVE: P-256'; then
        bad "mx cert $host: key is not P-256"
    else
        ok "mx cert $host: P-256, test CA, SAN $host, key matches"
    fi
done
if ((n == 20)); then
    ok "mx certs: $n"
else
    bad "mx certs: want 20, got $n"
fi

# MTA-STS next to DANE.
for d in dane-sts dane-partial-sts; do
    https "$d.test" 0 200 text/plain "$(size "$d")"
done
has dane-sts.test yes $'\nmx: mx1.dane-sts.test\nmax_age'
has dane-partial-sts.test yes \
    $'\nmx: mx1.dane-partial-sts.test\nmx: mx2.dane-partial-sts.test\n'

# ---- Faulty resolver paths, wrong trust anchor ------------------------------
# dnssec_rrs SERVER OPTS NAME TYPE: print the number of DNSSEC records
# (RRSIG, NSEC, NSEC3, DNSKEY, DS) in all sections of the answer.
dnssec_rrs() {
    drill "$2" "$3" "$4" "@$1" 2>&1 | awk '
        /^;; (ANSWER|AUTHORITY|ADDITIONAL) SECTION/ { a = 1; next }
        /^;; / { a = 0 }
        a && $4 ~ /^(RRSIG|NSEC|NSEC3|DNSKEY|DS)$/ { n++ }
        END { print n + 0 }'
}
# sigs SERVER OPTS NAME TYPE WANT: the answer has WANT DNSSEC records.
sigs() {
    local n
    n=$(dnssec_rrs "$1" "$2" "$3" "$4")
    if [[ $n == "$5" ]]; then
        ok "dns $3 $4 @$1 $2: $n DNSSEC records"
    else
        bad "dns $3 $4 @$1 $2: want $5 DNSSEC records, got $n"
    fi
}
# flag SERVER OPTS NAME TYPE FLAG yes|no: the answer has header FLAG.
flag() {
    local got=no
    drill "$2" "$3" "$4" "@$1" 2>&1 | grep -Eq "^;; flags:.* $5[ ;]" &&
        got=yes
    if [[ $got == "$6" ]]; then
        ok "dns $3 $4 @$1 $2: flag $5: $got"
    else
        bad "dns $3 $4 @$1 $2: flag $5: want $6, got $got"
    fi
}
strip=${TLSPOL_TEST_STRIP_RESOLVER:?}
notcp=${TLSPOL_TEST_NOTCP_RESOLVER:?}
# Control: Unbound itself returns them (4 DNSKEY + 2 RRSIG; SOA, NSEC and
# their RRSIGs for NXDOMAIN).
sigs "$res" -D . DNSKEY 6
sigs "$res" -D nonexistent.test A 5
# strip: over UDP and TCP, no DNSSEC records, no AD.
for o in -D -Dt; do
    dnsx "$strip" "$o" . DNSKEY NOERROR no 0
    sigs "$strip" "$o" . DNSKEY 0
    dnsx "$strip" "$o" enforce.test MX NOERROR no 1 "10 mx1.enforce.test."
    sigs "$strip" "$o" enforce.test MX 0
    dnsx "$strip" "$o" nonexistent.test A NXDOMAIN no 0
    sigs "$strip" "$o" nonexistent.test A 0
done
# notcp: ". DNSKEY" with DO (532 octets) comes back truncated and empty;
# small answers pass unchanged; TCP is refused.
dnsx "$notcp" -D . DNSKEY NOERROR yes 0
flag "$notcp" -D . DNSKEY tc yes
dnsx "$notcp" -D enforce.test MX NOERROR yes 1 "10 mx1.enforce.test."
flag "$notcp" -D enforce.test MX tc no
if drill -Dt enforce.test MX "@$notcp" >/dev/null 2>&1 ||
    (exec 3<>"/dev/tcp/$notcp/53") 2>/dev/null; then
    bad "dns @$notcp: answers over TCP"
else
    ok "dns @$notcp: TCP refused"
fi
# The wrong trust anchor: a root DS of the right form (key tag and
# algorithm of the root KSK, SHA-256) whose digest matches no key.
# ds_fields FILE: tag, algorithm, digest type, digest of its DS record
ds_fields() {
    awk '{ for (i = 1; i < NF; i++) if ($i == "DS") {
        print $(i + 1), $(i + 2), $(i + 3), tolower($(i + 4)); exit } }' "$1"
}
read -r wtag walg wdt wdigest < <(ds_fields "${TLSPOL_TEST_WRONG_TA:?}")
read -r rtag ralg _ rdigest < <(ds_fields "$TLSPOL_TEST_TA")
if [[ $wtag == "$rtag" && $walg == "$ralg" && $wdt == 2 &&
    $wdigest =~ ^[0-9a-f]{64}$ && $wdigest != "$rdigest" ]]; then
    ok "wrong-root.ds: DS $wtag $walg 2, another digest"
else
    bad "wrong-root.ds: DS '$wtag $walg $wdt $wdigest'"
fi
if drill -S -k "$TLSPOL_TEST_WRONG_TA" enforce.test MX "@$res" 2>&1 |
    grep -q 'Chase successful'; then
    bad "wrong-root.ds: drill -S chase succeeds"
else
    ok "wrong-root.ds: drill -S chase fails"
fi
for v in TLSPOL_TEST_STRIP_RESOLVER=127.0.0.3 \
    TLSPOL_TEST_NOTCP_RESOLVER=127.0.0.4 \
    "TLSPOL_TEST_WRONG_TA=$state/wrong-root.ds" \
    TLSPOL_TEST_BOGUS_NAME=selftest-bogus.test; do
    name=${v%%=*}
    if [[ ${!name:-} == "${v#*=}" ]]; then
        ok "env $v"
    else
        bad "env $name: want '${v#*=}', got '${!name:-}'"
    fi
done

if ((fails)); then
    printf '%d check(s) FAILED\n' "$fails"
    exit 1
fi
echo "all checks passed"
