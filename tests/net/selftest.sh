#!/bin/bash
# selftest.sh - check that the test network serves what README.md says.
#
# Run inside the namespace with the network up, normally as
#     tests/net/with-net.sh tests/net/selftest.sh
# Uses only drill, curl, openssl and ss (no libtlspol). Prints one line
# per check and exits non-zero if any check fails.
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

# The MX host keys and certificates in STATEDIR/mx (*.chain.pem aside): a
# P-256 key that matches the certificate, for serverAuth, issued by the
# test CA with SAN = the file name, unless this table says otherwise:
# FILE ISSUER (test or self) SAN. One per host with an A record in a DANE
# scenario and per SMTP server; TLSA data are computed from <host>.pem.
declare -A mx_issuer=() mx_san=()
while read -r f issuer san; do
    mx_issuer[$f]=$issuer
    mx_san[$f]=$san
done <<'END'
mx1.badcert-sts.test test other-name.test
mx1.badcert-dane.test.other test mx1.badcert-dane.test
mx1.plain-may.test self mx1.plain-may.test
END
n=0
for pem in "$state"/mx/*.pem; do
    f=$(basename "$pem" .pem)
    [[ $f == *.chain ]] && continue
    n=$((n + 1))
    san=${mx_san[$f]:-$f}
    issuer=${mx_issuer[$f]:-test}
    ca=$TLSPOL_TEST_CA
    [[ $issuer == self ]] && ca=$pem    # verifies only if self-signed
    key_spki=$(openssl pkey -in "$state/mx/$f.key" -pubout -outform DER |
        openssl dgst -sha256 -r)
    crt_spki=$(openssl x509 -in "$pem" -noout -pubkey |
        openssl pkey -pubin -outform DER | openssl dgst -sha256 -r)
    if ! openssl verify -CAfile "$ca" -no-CApath -no-CAstore \
        -purpose sslserver -verify_hostname "$san" "$pem" >/dev/null 2>&1
    then
        bad "mx cert $f: does not verify ($issuer, serverAuth, SAN $san)"
    elif [[ $key_spki != "$crt_spki" ]]; then
        bad "mx cert $f: key does not match the certificate"
    elif ! openssl pkey -in "$state/mx/$f.key" -noout -text |
        grep -q 'NIST CURVE: P-256'; then
        bad "mx cert $f: key is not P-256"
    else
        ok "mx cert $f: P-256, issuer $issuer, SAN $san, key matches"
    fi
done
if ((n == 40)); then
    ok "mx certs: $n"
else
    bad "mx certs: want 40, got $n"
fi
if cmp -s "$state/mx/mx1.dane-ta.test.chain.pem" \
    <(cat "$state/mx/mx1.dane-ta.test.pem" "$TLSPOL_TEST_CA"); then
    ok "mx cert mx1.dane-ta.test.chain: the leaf, then the test CA"
else
    bad "mx cert mx1.dane-ta.test.chain: not the leaf and the test CA"
fi
if [[ $(openssl x509 -in "$state/mx/mx1.badcert-dane.test.other.pem" \
    -noout -pubkey) != "$(openssl x509 -noout -pubkey \
    -in "$state/mx/mx1.badcert-dane.test.pem")" ]]; then
    ok "mx cert mx1.badcert-dane.test.other: another key than the TLSA's"
else
    bad "mx cert mx1.badcert-dane.test.other: same key as the TLSA's"
fi

# MTA-STS next to DANE.
for d in dane-sts dane-partial-sts; do
    https "$d.test" 0 200 text/plain "$(size "$d")"
done
has dane-sts.test yes $'\nmx: mx1.dane-sts.test\nmax_age'
has dane-partial-sts.test yes \
    $'\nmx: mx1.dane-partial-sts.test\nmx: mx2.dane-partial-sts.test\n'

# ---- SMTP -------------------------------------------------------------------
# Where the Postfix log stood when this run began.
log_start=$(wc -c <"$TLSPOL_TEST_MAILLOG" 2>/dev/null || echo 0)
# The SMTP servers of the MX hosts: one Postfix instance inside the
# namespace, one smtpd per address, logging to TLSPOL_TEST_MAILLOG.
# HOST ADDR CERT PKIX DANE, one row per server:
#   ADDR  the address of HOST in DNS, where its smtpd listens (port 25)
#   CERT  what the server presents after STARTTLS, exactly: the PEM file
#         STATEDIR/mx/CERT.pem (*.chain: the leaf, then the test CA); "-":
#         no STARTTLS
#   PKIX  openssl s_client -starttls smtp, the test CA as the only trust
#         anchor, HOST as SNI and reference identifier: ok (verified),
#         name (fails: hostname mismatch), self (fails: self-signed;
#         without verification the handshake works: opportunistic TLS),
#         nostarttls (EHLO offers no STARTTLS and s_client fails)
#   DANE  s_client with the TLSA RRset of _25._tcp.HOST as Unbound gives
#         it, -dane_tlsa_domain HOST, no trusted CA at all: ok (a record
#         matches), fail (none matches), "-" (no usable TLSA record)
: "${TLSPOL_TEST_MAILLOG:?}"
# smtp_tls ADDR HOST S_CLIENT_OPTIONS...: STARTTLS handshake, stdin empty
# (s_client closes right after it); prints s_client's output.
smtp_tls() {
    SSL_CERT_FILE=/dev/null SSL_CERT_DIR=/nonexistent timeout 10 \
        openssl s_client -starttls smtp -connect "$1:25" -servername "$2" \
        -no-CApath -no-CAstore "${@:3}" </dev/null 2>&1
}
# smtp_reply: read one SMTP reply (all its lines) from fd 3, CRs removed.
smtp_reply() {
    local line
    while IFS= read -r -t 5 line <&3; do
        line=${line%$'\r'}
        printf '%s\n' "$line"
        [[ $line =~ ^[0-9]{3}- ]] || return 0
    done
    return 1
}
# smtp_ehlo ADDR: print the greeting and the reply to EHLO, then QUIT.
smtp_ehlo() (
    exec 3<>"/dev/tcp/$1/25" || exit 1
    smtp_reply || exit 1
    printf 'EHLO selftest.test\r\n' >&3
    smtp_reply || exit 1
    printf 'QUIT\r\n' >&3
    smtp_reply >/dev/null || true
)
# pem_blocks: the PEM certificates in stdin, nothing else.
pem_blocks() {
    sed -n '/^-----BEGIN CERTIFICATE-----$/,/^-----END CERTIFICATE-----$/p'
}
smtp_hosts=()
smtp_addrs=()
declare -A smtp_pkix=() smtp_dane=()
while read -r host addr cert pkix dane; do
    smtp_hosts+=("$host")
    smtp_addrs+=("$addr")
    smtp_pkix[$host]=$pkix
    smtp_dane[$host]=$dane
    what="smtp $host ($addr)"
    # DNS points at the server.
    got=$(drill "$host" A "@$res" | awk '/^;; ANSWER SECTION/ { a = 1; next }
        /^;; / { a = 0 } a && $4 == "A" { print $5 }')
    if [[ $got == "$addr" ]]; then
        ok "$what: A $addr"
    else
        bad "$what: A is '$got'"
    fi
    # Greeting and EHLO: STARTTLS offered unless PKIX is nostarttls.
    out=$(smtp_ehlo "$addr" 2>&1) || true
    offers=no
    grep -Eq '^250[- ]STARTTLS$' <<<"$out" && offers=yes
    want=yes
    [[ $pkix == nostarttls ]] && want=no
    if ! grep -q "^220 $host ESMTP" <<<"$out"; then
        bad "$what: greeting: $(head -n 1 <<<"$out")"
    elif ! grep -q "^250-$host\$" <<<"$out"; then
        bad "$what: no EHLO reply: $(tail -n 1 <<<"$out")"
    elif [[ $offers != "$want" ]]; then
        bad "$what: EHLO offers STARTTLS: $offers, want $want"
    else
        ok "$what: 220 $host, EHLO offers STARTTLS: $offers"
    fi
    # PKIX: the test CA, HOST as the reference identifier.
    out=$(smtp_tls "$addr" "$host" -CAfile "$TLSPOL_TEST_CA" \
        -verify_hostname "$host" -verify_return_error -showcerts) &&
        rc=0 || rc=$?
    case $pkix in
    ok)
        if ((rc == 0)) && grep -q '^Verification: OK$' <<<"$out" &&
            grep -q "^Verified peername: $host\$" <<<"$out"; then
            ok "$what: STARTTLS, PKIX verified for $host"
        else
            bad "$what: PKIX: exit $rc: $(grep -m 1 -i error <<<"$out")"
        fi ;;
    name | self)
        err="hostname mismatch"
        [[ $pkix == self ]] && err="self-signed certificate"
        if ((rc != 0)) && grep -q "^verify error:num=[0-9]*:$err\$" \
            <<<"$out"; then
            ok "$what: STARTTLS, PKIX fails: $err"
        else
            bad "$what: PKIX: want '$err', got exit $rc:" \
                "$(grep -m 1 -i error <<<"$out")"
        fi ;;
    nostarttls)
        if ((rc != 0)) &&
            grep -q "Didn't find STARTTLS in server response" <<<"$out"; then
            ok "$what: s_client -starttls smtp fails: no STARTTLS"
        else
            bad "$what: s_client -starttls smtp: exit $rc"
        fi ;;
    esac
    # What the server presents, exactly.
    if [[ $cert != - ]]; then
        if [[ $(pem_blocks <<<"$out") == \
            "$(pem_blocks <"$state/mx/$cert.pem")" ]]; then
            ok "$what: presents mx/$cert.pem" \
                "($(pem_blocks <<<"$out" | grep -c BEGIN) certificate(s))"
        else
            bad "$what: does not present mx/$cert.pem"
        fi
    fi
    # Opportunistic TLS: no verification at all.
    if [[ $pkix == self ]]; then
        if out=$(smtp_tls "$addr" "$host" -brief) &&
            grep -q '^CONNECTION ESTABLISHED$' <<<"$out"; then
            ok "$what: STARTTLS without verification works"
        else
            bad "$what: STARTTLS without verification fails"
        fi
    fi
    # DANE: the published TLSA RRset, no CA trusted.
    [[ $dane == - ]] && continue
    tlsa=()
    while read -r rr; do
        tlsa+=(-dane_tlsa_rrdata "$rr")
    done < <(drill -D "_25._tcp.$host" TLSA "@$res" | awk '
        /^;; ANSWER SECTION/ { a = 1; next } /^;; / { a = 0 }
        a && $4 == "TLSA" { print $5, $6, $7, $8 }')
    if ((${#tlsa[@]} == 0)); then
        bad "$what: no TLSA records at _25._tcp.$host"
        continue
    fi
    out=$(smtp_tls "$addr" "$host" -no-CAfile -dane_tlsa_domain "$host" \
        "${tlsa[@]}" -verify_return_error -brief) && rc=0 || rc=$?
    matched=$(grep -o '^DANE TLSA [0-9] [0-9] [0-9] .* matched [A-Z]* cert' \
        <<<"$out" || true)
    if [[ $dane == ok ]] && ((rc == 0)) && [[ -n $matched ]]; then
        ok "$what: DANE: $matched"
    elif [[ $dane == fail ]] && ((rc != 0)) &&
        grep -q '^verify error:num=[0-9]*:no matching DANE TLSA records$' \
            <<<"$out"; then
        ok "$what: DANE fails: no matching DANE TLSA records"
    else
        bad "$what: DANE: want $dane, got exit $rc:" \
            "$(grep -m 1 -i 'error' <<<"$out")"
    fi
done <<'END'
mx1.enforce.test 127.0.2.1 mx1.enforce.test ok -
mx1.testing.test 127.0.2.2 mx1.testing.test ok -
mx1.wildcard.test 127.0.2.4 mx1.wildcard.test ok -
mx1.multi-mx.test 127.0.2.6 mx1.multi-mx.test ok -
mx2.multi-mx.test 127.0.2.7 mx2.multi-mx.test ok -
mx1.split-txt.test 127.0.2.12 mx1.split-txt.test ok -
mx1.ext-txt.test 127.0.2.13 mx1.ext-txt.test ok -
mx1.cname-txt.test 127.0.2.14 mx1.cname-txt.test ok -
mx1.big-maxage.test 127.0.2.24 mx1.big-maxage.test ok -
mx1.crlf.test 127.0.2.25 mx1.crlf.test ok -
mx1.unknown-keys.test 127.0.2.26 mx1.unknown-keys.test ok -
mx1.insecure.test 127.0.2.29 mx1.insecure.test ok -
mx1.dane-ee.test 127.0.2.30 mx1.dane-ee.test ok ok
mx1.dane-ta.test 127.0.2.31 mx1.dane-ta.test.chain ok ok
mx1.dane-unusable.test 127.0.2.32 mx1.dane-unusable.test ok -
mx-target.dane-cname.test 127.0.2.36 mx-target.dane-cname.test ok ok
mx1.dane-mixed.test 127.0.2.37 mx1.dane-mixed.test ok ok
mx2.dane-mixed.test 127.0.2.38 mx2.dane-mixed.test ok -
mx1.dane-sts.test 127.0.2.39 mx1.dane-sts.test ok ok
mx1.dane-partial-sts.test 127.0.2.40 mx1.dane-partial-sts.test ok ok
mx2.dane-partial-sts.test 127.0.2.41 mx2.dane-partial-sts.test ok -
no-mx.test 127.0.2.42 no-mx.test ok ok
mx1.dane-malformed.test 127.0.2.43 mx1.dane-malformed.test ok ok
mx1.dane-sha512.test 127.0.2.44 mx1.dane-sha512.test ok ok
mx2.addr-bogus.test 127.0.2.46 mx2.addr-bogus.test ok ok
mx1.badcert-sts.test 127.0.2.51 mx1.badcert-sts.test name -
mx1.badcert-dane.test 127.0.2.52 mx1.badcert-dane.test.other ok fail
mx1.no-starttls.test 127.0.2.53 - nostarttls -
mx1.plain-may.test 127.0.2.54 mx1.plain-may.test self -
mx1.preload-enforce.test 127.0.2.55 mx1.preload-enforce.test ok -
mx1.preload-testing.test 127.0.2.56 mx1.preload-testing.test ok -
mx1.preload-alias.test 127.0.2.57 mx1.preload-alias.test ok -
mx1.local-secure.test 127.0.2.58 mx1.local-secure.test ok -
END
# Only these addresses listen on port 25.
listening=$(ss -Htln 'sport = :25' | awk '{ sub(/:25$/, "", $4); print $4 }' |
    sort -V | tr '\n' ' ')
want=$(printf '%s\n' "${smtp_addrs[@]}" | sort -V | tr '\n' ' ')
if [[ $listening == "$want" ]]; then
    ok "smtp: port 25 open on exactly the ${#smtp_addrs[@]} server addresses"
else
    bad "smtp: port 25 open on [$listening], want [$want]"
fi

# The Postfix log (postlogd writes it a moment after the event): every
# server logged the connections above, with the TLS outcome.
# log_has HOST TEXT: a line of HOST's smtpd contains TEXT (2 s to appear)
# (only what this run logged: other clients may have connected before)
log_new() { tail -c "+$((log_start + 1))" "$TLSPOL_TEST_MAILLOG"; }
log_has() {
    local i
    for i in $(seq 20); do
        log_new | grep -Eq "postfix/$1/smtpd\[[0-9]+\]: .*$2" &&
            return 0
        ((i < 20)) && sleep 0.1
    done
    return 1
}
for host in "${smtp_hosts[@]}"; do
    pkix=${smtp_pkix[$host]} dane=${smtp_dane[$host]}
    if ! log_has "$host" 'disconnect from'; then
        bad "maillog $host: no connection logged"
        continue
    fi
    # A TLS handshake above completed (server side).
    if [[ $pkix == ok || $pkix == self || $dane == ok ]]; then
        if log_has "$host" 'Anonymous TLS connection established from'; then
            ok "maillog $host: TLS connection established"
        else
            bad "maillog $host: no 'TLS connection established'"
        fi
    elif log_new |
        grep -Eq "postfix/$host/smtpd\[[0-9]+\]: .*TLS connection est"; then
        bad "maillog $host: a TLS connection was established"
    else
        ok "maillog $host: connections, no TLS connection established"
    fi
    # A client above rejected the certificate: TLS alert 42.
    if [[ $pkix == name || $dane == fail ]]; then
        if log_has "$host" 'alert bad certificate'; then
            ok "maillog $host: the client rejected the certificate (alert 42)"
        else
            bad "maillog $host: no 'alert bad certificate'"
        fi
    fi
done
if grep -Eq '(fatal|panic):' "$TLSPOL_TEST_MAILLOG"; then
    bad "maillog: $(grep -Em 1 '(fatal|panic):' "$TLSPOL_TEST_MAILLOG")"
else
    ok "maillog: no fatal or panic"
fi

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
    TLSPOL_TEST_BOGUS_NAME=selftest-bogus.test TLSPOL_TEST_SMTP=1 \
    "TLSPOL_TEST_MAILLOG=$state/postfix/maillog"; do
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
