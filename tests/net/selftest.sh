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
bad() { printf 'FAIL  %s\n' "$*"; fails=$((fails + 1)); }

# ---- DNS ------------------------------------------------------------------
# dns NAME TYPE RCODE AD COUNT [PATTERN]: ask Unbound with DO set; expect
# RCODE, the AD flag (yes/no), COUNT answer RRs of TYPE (RRSIGs not
# counted) and, if given, PATTERN somewhere in those RRs.
dns() {
    local name=$1 type=$2 rcode=$3 ad=$4 count=$5 pattern=${6:-} out
    local got_ad=no got_n what="$name $type"
    out=$(drill -D "$name" "$type" "@$res" 2>&1) || {
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

if ((fails)); then
    printf '%d check(s) FAILED\n' "$fails"
    exit 1
fi
echo "all checks passed"
