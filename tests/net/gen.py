#!/usr/bin/env python3
"""Generate the data of libtlspol's hermetic test network from one table.

Usage: gen.py STATEDIR
       gen.py --break-sigs STATEDIR ZONE

The first form writes, below STATEDIR (all paths absolute in the generated
configs):
  dns/root.zone dns/test.zone dns/insecure.test.zone   unsigned zone files
                                                       (netup.sh signs the
                                                       first two)
  dns/sigfaults.tsv                                    RRSIGs to break after
                                                       signing: zone, owner,
                                                       type, corrupt|expire
  www/<policy host>.txt                                policy bodies
  nginx/nginx.conf                                     one server per host
  postfix/conf/main.cf postfix/conf/master.cf          the Postfix instance:
                                                       one smtpd per SMTP
                                                       server address
  postfix/servers.tsv                                  the SMTP servers:
                                                       host, address, kind,
                                                       certificate, key
  certs.tsv                                            leaf certificates for
                                                       netup.sh to issue:
                                                       name, issuer, SAN, dir

TLSA association data depends on keys that do not exist yet, so the zone
files hold placeholders %%KIND:FILE%% (KIND spki-sha256, spki-sha512 or
cert-sha256; FILE relative to STATEDIR). Once the certificates are
issued, netup.sh replaces them with the digests of FILE's public key or
DER encoding.

The second form runs right after netup.sh has signed ZONE ("test" or
"root"): for each row of dns/sigfaults.tsv in ZONE it rewrites the one
RRSIG covering that owner and type in dns/ZONE.zone.signed, either
changing characters in the middle of the signature ("corrupt": validators
report "signature crypto failed") or swapping in the RRSIG of the same
RRset from dns/ZONE.zone.past.signed, which netup.sh signed with a
validity window entirely in the past ("expire").

SCENARIOS below is the single source of truth for the MTA-STS and DANE
scenarios and the SMTP servers of their MX hosts; README.md documents each
row and the verdict the RFCs expect from it. Standard library only; no
network access.
"""

import os
import random
import sys
import time

# Addresses inside the namespace (see README.md, "Address plan").
NS_ADDR = "127.0.0.2"        # NSD, authoritative for ".", "test.", ...
NGINX_ADDR = "127.0.1.1"     # nginx: every ordinary policy host
SLOW_ADDR = "127.0.1.2"      # slowhttps.py: mta-sts.slow.test
MX_NET = "127.0.2."          # MX hosts: 127.0.2.1, .2, ... one per host;
                             # Postfix smtpd on port 25 of those with an
                             # SMTP server
DEAD_ADDR = "127.0.0.99"     # "name server" of dead delegations: nothing
                             # listens there

TTL = 3600
TXT_TTL = 300
DEFAULT_ID = "v=STSv1; id=20261129T1"

# Zones NSD serves. "." and "test." are signed; "insecure.test." is
# delegated from "test." without DS, so it validates as insecure.
ZONES = ["", "test", "insecure.test"]
SIGNED = {"", "test"}


def policy(domain, mode="enforce", mx=None, max_age="86400",
           version=True, extra=(), eol="\n"):
    """Return an RFC 8461 policy body for DOMAIN with the given deviations."""
    lines = []
    if version:
        lines.append("version: STSv1")
    lines.append("mode: " + mode)
    for pattern in (["mx1." + domain] if mx is None else mx):
        lines.append("mx: " + pattern)
    lines.append("max_age: " + max_age)
    lines.extend(extra)
    return "".join(line + eol for line in lines)


def oversize(domain, size=70000):
    """A valid enforce policy padded with "x-pad" extension lines to SIZE
    bytes exactly (more than the 64 KiB limit RFC 8461 suggests)."""
    body = policy(domain)
    pad = []
    left = size - len(body)
    while left > 0:
        n = min(1000, left - len("x-pad: \n"))
        if n < 1:                       # cannot happen with size 70000
            raise ValueError("padding does not fit")
        pad.append("x-pad: " + "a" * n + "\n")
        left -= len(pad[-1])
    return body + "".join(pad)


# One row per scenario. Keys (all optional except "domain"). Host and
# owner names are relative to the domain; "@" is the domain itself and a
# name with a trailing dot is absolute.
#   mx      [(preference, host)]; default [(10, "mx1")]. Each host gets an
#           A record (the next address in MX_NET), except an absolute host,
#           whose records belong to another row. (0, ".") is a null MX
#           (RFC 7505); [] means no MX RRset.
#   a       True: the domain itself gets an A record (next MX_NET address)
#   cname   {host: target}: host is a CNAME to target; the target gets the
#           A record (and certificate) instead of host
#   tlsa    {host: [rdata, ...]}: TLSA RRs at _25._tcp.<host>, each
#           "usage selector mtype DATA", DATA one of: spki-sha256,
#           spki-sha512 (of the certificate STATEDIR/mx/<host>.pem),
#           ca-sha256 (of the test CA certificate), random:N (N random
#           bytes, matching nothing)
#   mx_certs True: every host of the row with an A record gets an EC P-256
#           key and test-CA certificate STATEDIR/mx/<host>.{key,pem}
#           (SAN = host); the TLSA data are computed from these
#   smtp    SMTP servers (Postfix smtpd, port 25) on the row's hosts: True =
#           every host of the row with an A record, with kind "test"; or
#           {host: kind}. The kind says what the server presents after
#           STARTTLS (all keys EC P-256, in STATEDIR/mx/):
#             "test"      <host>.{key,pem}: test CA, SAN = host
#             "chain"     the same, with the test CA certificate after the
#                         leaf (<host>.chain.pem), as DANE-TA requires
#             "san:NAME"  <host>.{key,pem}: test CA, the only SAN is NAME
#             "self"      <host>.{key,pem}: self-signed, SAN = host
#             "other-key" <host>.other.{key,pem}: test CA, SAN = host, but
#                         another key than <host>.{key,pem}, which the TLSA
#                         records name
#             "none"      no STARTTLS at all (smtpd_tls_security_level=none)
#   sigfault [(owner, type, how)]: after signing, break the RRSIG covering
#           owner/type: how "corrupt" (bytes of the signature changed) or
#           "expire" (replaced by an RRSIG valid only in the past)
#   dead    [owner]: delegate owner, with a DS, to a name server at
#           DEAD_ADDR where nothing listens: lookups there give SERVFAIL
#   sts     False: no MTA-STS (no _mta-sts TXT, policy host, certificate or
#           nginx server); default True. The keys below are MTA-STS ones.
#   txt     list of TXT RRs, each a list of character-strings;
#           None = no TXT at _mta-sts.<domain>
#   txt_cname  target of a CNAME at _mta-sts.<domain> (instead of TXT)
#   addr    address of mta-sts.<domain>; None = no address records (NODATA)
#   http    "200" (serve body), "404", or "301 <location>"
#   ctype   Content-Type of the policy; default "text/plain"
#   cert    "test" (test CA, SAN = policy host), "rogue" (rogue CA),
#           "expired" (test CA, validity in the past), or "san:<name>"
#           (test CA, the only SAN is <name>)
#   body    function(domain) -> body; default policy(domain)
EE = "3 1 1 spki-sha256"      # DANE-EE(3) SPKI(1) SHA2-256(1)


def dane(domain, **kw):
    """A DANE scenario row: no MTA-STS unless sts=True, MX certificates."""
    row = dict(domain=domain, sts=False, mx_certs=True)
    row.update(kw)
    return row


SCENARIOS = [
    dict(domain="enforce.test", ctype="text/plain; charset=utf-8",
         smtp=True),
    dict(domain="testing.test", body=lambda d: policy(d, mode="testing"),
         smtp=True),
    dict(domain="none.test", body=lambda d: policy(d, mode="none", mx=[])),
    dict(domain="wildcard.test",
         mx=[(10, "mx1"), (20, "deep.sub")], smtp={"mx1": "test"},
         body=lambda d: policy(d, mx=["*." + d])),
    dict(domain="multi-mx.test",
         mx=[(10, "mx1"), (20, "mx2")], smtp=True,
         body=lambda d: policy(d, mx=["mx1." + d, "mx2." + d])),
    dict(domain="mx-mismatch.test",
         body=lambda d: policy(d, mx=["mail.elsewhere.test"])),
    dict(domain="no-txt.test", txt=None),
    dict(domain="bad-txt.test", txt=[["v=STSv1; id=bad-id!"]]),
    dict(domain="two-txt.test",
         txt=[["v=STSv1; id=one1"], ["v=STSv1; id=two2"]]),
    dict(domain="split-txt.test", txt=[["v=STSv1; ", "id=split1"]],
         smtp=True),
    dict(domain="ext-txt.test", txt=[["v=STSv1; id=ext1; foo=bar"]],
         smtp=True),
    dict(domain="cname-txt.test", txt_cname="_mta-sts.enforce.test.",
         smtp=True),
    dict(domain="http-404.test", http="404"),
    dict(domain="redirect.test",
         http="301 https://mta-sts.enforce.test/.well-known/mta-sts.txt"),
    dict(domain="wrong-name.test", cert="san:other-name.test"),
    dict(domain="unknown-ca.test", cert="rogue"),
    dict(domain="expired-cert.test", cert="expired"),
    dict(domain="text-html.test", ctype="text/html"),
    dict(domain="oversize.test", body=oversize),
    dict(domain="no-version.test", body=lambda d: policy(d, version=False)),
    dict(domain="bad-mode.test", body=lambda d: policy(d, mode="strict")),
    dict(domain="big-maxage.test", smtp=True,
         body=lambda d: policy(d, max_age="9999999999")),
    dict(domain="crlf.test", body=lambda d: policy(d, eol="\r\n"),
         smtp=True),
    dict(domain="unknown-keys.test", smtp=True,
         body=lambda d: policy(d, extra=["foo: bar", "x_ext.1: some value"])),
    dict(domain="slow.test", addr=SLOW_ADDR),
    dict(domain="no-addr.test", addr=None),
    # The unsigned child zone itself: a complete enforce setup whose DNS
    # validates as insecure (MTA-STS does not depend on DNSSEC).
    dict(domain="insecure.test", smtp=True),

    # DANE (RFC 7672). MX hosts continue the address sequence (127.0.2.30
    # onwards). README.md gives the expected verdict of each row.
    dane("dane-ee.test", tlsa={"mx1": [EE]}, smtp=True),
    dane("dane-ta.test", tlsa={"mx1": ["2 0 1 ca-sha256"]},
         smtp={"mx1": "chain"}),
    dane("dane-unusable.test", smtp=True,
         tlsa={"mx1": ["0 0 1 ca-sha256", "1 1 1 spki-sha256"]}),
    dane("dane-bogus.test", tlsa={"mx1": [EE]},
         sigfault=[("_25._tcp.mx1", "TLSA", "corrupt")]),
    dane("dane-expired.test", tlsa={"mx1": [EE]},
         sigfault=[("_25._tcp.mx1", "TLSA", "expire")]),
    dane("dane-unsigned.insecure.test", tlsa={"mx1": [EE]}),
    dane("insecure-mx.insecure.test", mx=[(10, "mx1.dane-ee.test.")]),
    dane("dane-cname.test", mx=[(10, "mx")], cname={"mx": "mx-target"},
         tlsa={"mx-target": [EE]}, smtp=True),
    dane("dane-mixed.test", mx=[(10, "mx1"), (20, "mx2")],
         tlsa={"mx1": [EE]}, smtp=True),
    dane("dane-sts.test", sts=True, tlsa={"mx1": [EE]}, smtp=True),
    dane("dane-partial-sts.test", sts=True, mx=[(10, "mx1"), (20, "mx2")],
         tlsa={"mx1": [EE]}, smtp=True,
         body=lambda d: policy(d, mx=["mx1." + d, "mx2." + d])),
    dane("no-mx.test", mx=[], a=True, tlsa={"@": [EE]}, smtp=True),
    dane("null-mx.test", mx=[(0, ".")]),
    dane("dane-malformed.test", smtp=True,
         tlsa={"mx1": [EE, "3 1 1 random:20", "3 1 2 random:10"]}),
    dane("dane-sha512.test", smtp=True,
         tlsa={"mx1": ["3 1 1 random:32", "3 1 2 spki-sha512"]}),
    dane("addr-bogus.test", mx=[(10, "mx1"), (20, "mx2")],
         tlsa={"mx2": [EE]}, sigfault=[("mx1", "A", "corrupt")],
         smtp={"mx2": "test"}),
    dane("addr-bogus-only.test", sigfault=[("mx1", "A", "corrupt")]),
    dane("mx-bogus.test", sigfault=[("@", "MX", "corrupt")]),
    dane("dane-tlsa-servfail.test", dead=["_25._tcp.mx1"]),
    # The resolver self-test's known-bogus name (TLSPOL_TEST_BOGUS_NAME).
    dane("selftest-bogus.test", mx=[], a=True, mx_certs=False,
         sigfault=[("@", "A", "corrupt")]),

    # SMTP servers whose TLS fails verification or is missing (127.0.2.51
    # onwards). README.md gives the expected verdict of each row.
    dict(domain="badcert-sts.test", smtp={"mx1": "san:other-name.test"}),
    dane("badcert-dane.test", tlsa={"mx1": [EE]}, smtp={"mx1": "other-key"}),
    dict(domain="no-starttls.test", sts=False, smtp={"mx1": "none"}),
    dict(domain="plain-may.test", sts=False, smtp={"mx1": "self"}),

    # No MTA-STS: decided by a preload list (tests/data/preload) or a local
    # override (tests/data/config/net.yaml) in the library's tests.
    dict(domain="preload-enforce.test", sts=False, smtp=True),
    dict(domain="preload-testing.test", sts=False, smtp=True),
    dict(domain="preload-alias.test", sts=False, smtp=True),
    dict(domain="local-secure.test", sts=False, smtp=True),
]


def zone_of(name):
    """The most specific zone in ZONES that contains NAME (no final dot)."""
    best = ""
    for zone in ZONES:
        if (name == zone or name.endswith("." + zone)) and \
                len(zone) > len(best):
            best = zone
    return best


def fqdn(name):
    return name + "."


def txt_rdata(strings):
    """Quote each character-string for a zone file."""
    out = []
    for s in strings:
        if len(s.encode()) > 255:
            raise ValueError("character-string too long: " + s)
        out.append('"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"')
    return " ".join(out)


def rel(name, domain):
    """Expand a row's NAME: "@" is DOMAIN, a trailing dot means absolute,
    anything else is relative to DOMAIN. No final dot in the result."""
    if name == "@":
        return domain
    if name.endswith("."):
        return name[:-1]
    return name + "." + domain


# TLSA association data: placeholder (see the module docstring) or bytes.
def tlsa_data(spec, host):
    if spec == "spki-sha256" or spec == "spki-sha512":
        return "%%%%%s:mx/%s.pem%%%%" % (spec, host)
    if spec == "ca-sha256":
        return "%%cert-sha256:ca.pem%%"
    if spec.startswith("random:"):
        return os.urandom(int(spec[7:])).hex()
    raise ValueError("unknown TLSA data: " + spec)


def build_zones(serial):
    """Return (records per zone, MX certificates to issue as
    {host: (issuer, SAN)}, RRSIG faults as [(zone, owner, type, how)],
    SMTP servers as [(host, address, kind)])."""
    records = {zone: [] for zone in ZONES}
    mx_certs = {}
    faults = []
    servers = []

    def add(name, ttl, rtype, rdata):
        records[zone_of(name)].append(
            "%s\t%d\tIN\t%s\t%s" % (fqdn(name), ttl, rtype, rdata))

    # Apex data and delegations. Unbound is pointed at NSD for "." and
    # follows the delegations; DS records are added by netup.sh.
    for zone in ZONES:
        apex = fqdn(zone) if zone else "."
        records[zone].append(
            "%s\t%d\tIN\tSOA\tns1.test. hostmaster.test. %d 3600 900 "
            "604800 3600" % (apex, TTL, serial))
        records[zone].append("%s\t%d\tIN\tNS\tns1.test." % (apex, TTL))
    records[""].append("test.\t%d\tIN\tNS\tns1.test." % TTL)
    records[""].append("ns1.test.\t%d\tIN\tA\t%s" % (TTL, NS_ADDR))  # glue
    add("ns1.test", TTL, "A", NS_ADDR)
    records["test"].append("insecure.test.\t%d\tIN\tNS\tns1.test." % TTL)

    mx_index = 0
    for sc in SCENARIOS:
        d = sc["domain"]
        hosts = {}                      # names that get an A record: address

        def address(name):
            nonlocal mx_index
            mx_index += 1
            if mx_index > 254:
                raise ValueError("too many MX hosts for " + MX_NET + "0/24")
            hosts[name] = MX_NET + str(mx_index)
            add(name, TTL, "A", hosts[name])

        for pref, host in sc.get("mx", [(10, "mx1")]):
            if host == ".":
                add(d, TTL, "MX", "%d ." % pref)       # null MX
                continue
            name = rel(host, d)
            add(d, TTL, "MX", "%d %s" % (pref, fqdn(name)))
            if host.endswith("."):
                continue                # another row makes its records
            target = sc.get("cname", {}).get(host)
            if target is not None:
                add(name, TTL, "CNAME", fqdn(rel(target, d)))
                name = rel(target, d)
            address(name)
        if sc.get("a"):
            address(d)
        if sc.get("mx_certs"):
            mx_certs.update((host, ("test", host)) for host in hosts)
        smtp = sc.get("smtp") or {}
        if smtp is True:
            smtp = [(host, "test") for host in hosts]
        else:
            smtp = [(rel(host, d), kind) for host, kind in smtp.items()]
        for host, kind in smtp:
            if host not in hosts:
                raise ValueError("smtp: no address for %s" % host)
            if kind.startswith("san:"):
                mx_certs[host] = ("test", kind[4:])
            elif kind == "chain":
                mx_certs[host] = ("test-chain", host)
            elif kind == "self":
                mx_certs[host] = ("self", host)
            elif kind in ("test", "other-key"):
                mx_certs[host] = ("test", host)
            elif kind != "none":
                raise ValueError("smtp: unknown kind %s for %s" % (kind, host))
            servers.append((host, hosts[host], kind))

        for host, rrs in sc.get("tlsa", {}).items():
            base = rel(host, d)
            for rr in rrs:
                usage, selector, mtype, spec = rr.split()
                add("_25._tcp." + base, TTL, "TLSA", "%s %s %s %s" % (
                    usage, selector, mtype, tlsa_data(spec, base)))
                if spec.startswith("spki-") and base not in mx_certs:
                    raise ValueError("TLSA for %s: no certificate" % base)
        for owner in sc.get("dead", []):
            name = rel(owner, d)
            add(name, TTL, "NS", fqdn("ns-dead." + d))
            add(name, TTL, "DS", "%d 13 2 %s" % (
                random.randint(1, 65535), os.urandom(32).hex()))
        if sc.get("dead"):
            add("ns-dead." + d, TTL, "A", DEAD_ADDR)
        for owner, rtype, how in sc.get("sigfault", []):
            name = rel(owner, d)
            zone = zone_of(name)
            if zone not in SIGNED or how not in ("corrupt", "expire"):
                raise ValueError("bad sigfault %s %s %s" % (name, rtype, how))
            faults.append((zone or "root", fqdn(name), rtype, how))

        if not sc.get("sts", True):
            continue
        if "txt_cname" in sc:
            add("_mta-sts." + d, TTL, "CNAME", sc["txt_cname"])
        else:
            for rr in sc.get("txt", [[DEFAULT_ID]]) or []:
                add("_mta-sts." + d, TXT_TTL, "TXT", txt_rdata(rr))
        addr = sc.get("addr", NGINX_ADDR)
        if addr is not None:
            add("mta-sts." + d, TTL, "A", addr)
        else:
            # Keep the name in existence (NODATA for A/AAAA, not NXDOMAIN).
            add("mta-sts." + d, TTL, "TXT",
                txt_rdata(["policy host without address records"]))
    # Any NAME.wild.test has an MX host with DANE: distinct domains for
    # cold-lookup and memory benchmarks (tests/bench/bench.c).
    add("*.wild.test", TTL, "MX", "10 mx1.dane-ee.test.")
    return records, mx_certs, faults, servers


def write(path, text, mode="w"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, mode, newline="") as f:
        f.write(text)


NGINX_HEAD = """\
# Generated by tests/net/gen.py; do not edit.
user root root;
worker_processes 1;
pid {n}/nginx.pid;
error_log {n}/error.log info;
events {{ worker_connections 256; }}
http {{
    access_log {n}/access.log;
    client_body_temp_path {n}/tmp/client_body;
    proxy_temp_path {n}/tmp/proxy;
    fastcgi_temp_path {n}/tmp/fastcgi;
    uwsgi_temp_path {n}/tmp/uwsgi;
    scgi_temp_path {n}/tmp/scgi;
    types {{ }}
    default_type application/octet-stream;
    server_tokens off;
    etag off;
    ssl_protocols TLSv1.2 TLSv1.3;

    # Unknown SNI (or none): a test-CA cert for no policy host, and 404.
    server {{
        listen {addr}:443 ssl default_server;
        server_name _;
        ssl_certificate {p}/default.pem;
        ssl_certificate_key {p}/default.key;
        location / {{ return 404; }}
    }}
"""

NGINX_SERVER = """
    server {{
        listen {addr}:443 ssl;
        server_name {host};
        ssl_certificate {p}/{host}.pem;
        ssl_certificate_key {p}/{host}.key;
        location = /.well-known/mta-sts.txt {{
{action}
        }}
        location / {{ return 404; }}
    }}
"""


POSTFIX_MAIN = """\
# Generated by tests/net/gen.py; do not edit.
# The test network's Postfix: smtpd only, one per SMTP server address
# (master.cf). EHLO, STARTTLS and MAIL work; every RCPT is rejected, so
# nothing is ever queued or delivered.
compatibility_level = 3.6
queue_directory = {pf}/queue
data_directory = {pf}/data
mail_owner = postfix
setgid_group = postdrop
inet_protocols = ipv4
myhostname = postfix.test
mydestination =
relay_domains =
local_recipient_maps =
relay_recipient_maps =
alias_maps =
alias_database =
biff = no
smtpd_recipient_restrictions = reject
# No PTR lookups: clients are "unknown[127.0.0.1]".
smtpd_peername_lookup = no
# Each service in master.cf sets its own level, certificate and key.
smtpd_tls_security_level = none
smtpd_tls_loglevel = 1
# All daemons log through postlogd to this file (no syslog).
maillog_file = {pf}/maillog
maillog_file_prefixes = {pf}
"""

POSTFIX_MASTER_HEAD = """\
# Generated by tests/net/gen.py; do not edit.
# service type  private unpriv  chroot  wakeup  maxproc command + args
"""

POSTFIX_MASTER_TAIL = """\
cleanup   unix  n       -       n       -       0       cleanup
rewrite   unix  -       -       n       -       -       trivial-rewrite
anvil     unix  -       -       n       -       1       anvil
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
postlog   unix-dgram n  -       n       -       1       postlogd
"""


def served_files(mx, host, kind):
    """The certificate (chain) and key files an SMTP server of KIND
    presents, or (None, None) without STARTTLS."""
    if kind == "none":
        return None, None
    if kind == "chain":
        return os.path.join(mx, host + ".chain.pem"), \
            os.path.join(mx, host + ".key")
    if kind == "other-key":
        host += ".other"
    return os.path.join(mx, host + ".pem"), os.path.join(mx, host + ".key")


def postfix_conf(state, servers):
    """Write postfix/conf/{main,master}.cf and postfix/servers.tsv. The
    queue and data directories are not below conf/: "postfix start" wants
    everything there owned by root."""
    pf = os.path.join(state, "postfix")
    mx = os.path.join(state, "mx")
    if any(c.isspace() for c in state):
        raise SystemExit("gen.py: STATEDIR must not contain white space "
                         "(Postfix's master.cf)")
    master = [POSTFIX_MASTER_HEAD]
    rows = []
    for host, addr, kind in servers:
        cert, key = served_files(mx, host, kind)
        opts = ["syslog_name=postfix/" + host, "myhostname=" + host]
        if cert is None:
            opts.append("smtpd_tls_security_level=none")
        else:
            opts += ["smtpd_tls_security_level=may",
                     "smtpd_tls_cert_file=" + cert,
                     "smtpd_tls_key_file=" + key]
        master.append("%s:25 inet n - n - - smtpd\n" % addr)
        master.extend("    -o %s\n" % o for o in opts)
        rows.append("%s\t%s\t%s\t%s\t%s\n" % (
            host, addr, kind, cert or "-", key or "-"))
    master.append(POSTFIX_MASTER_TAIL)
    write(os.path.join(pf, "conf", "main.cf"), POSTFIX_MAIN.format(pf=pf))
    write(os.path.join(pf, "conf", "master.cf"), "".join(master))
    # Postfix rereads a file modified less than about 2 s ago, 300 ms
    # apart, until it is older: that made "postfix start" (and each new
    # daemon) 1 s slower. Backdate both files.
    past = time.time() - 60
    for name in ("main.cf", "master.cf"):
        os.utime(os.path.join(pf, "conf", name), (past, past))
    write(os.path.join(pf, "servers.tsv"), "".join(rows))
    os.makedirs(os.path.join(pf, "queue"), exist_ok=True)


def nginx_action(sc, body_path):
    http = sc.get("http", "200")
    if http == "404":
        return "            return 404;"
    if http.startswith("301 "):
        return "            return 301 %s;" % http.split(" ", 1)[1]
    ctype = sc.get("ctype", "text/plain")
    mime, _, params = ctype.partition(";")
    lines = ["            default_type %s;" % mime.strip()]
    if params.strip():
        # nginx appends "; charset=..." to text/* itself.
        key, _, value = params.strip().partition("=")
        if key.strip() != "charset":
            raise ValueError("unsupported content-type parameter: " + ctype)
        lines.append("            charset %s;" % value.strip())
    lines.append("            alias %s;" % body_path)
    return "\n".join(lines)


B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def corrupt(sig):
    """SIG (base64) with four characters in the middle changed: still
    valid base64 of the same length, no longer a valid signature."""
    mid = len(sig) // 2
    chars = list(sig)
    for i in range(mid - 2, mid + 2):
        chars[i] = B64[(B64.index(chars[i]) + 17) % 64]
    return "".join(chars)


def covers(line, owner, rtype):
    """LINE (zone file, as ldns writes it) is an RRSIG over OWNER/RTYPE."""
    f = line.split()
    return len(f) > 5 and f[3] == "RRSIG" and f[4] == rtype and \
        f[0].lower() == owner.lower()


def rrsig_index(lines, owner, rtype, path):
    """Index of the one RRSIG line in LINES covering OWNER/RTYPE."""
    found = [i for i, line in enumerate(lines) if covers(line, owner, rtype)]
    if len(found) != 1:
        raise SystemExit("gen.py: %d RRSIGs over %s %s in %s, want 1"
                         % (len(found), owner, rtype, path))
    return found[0]


def break_sigs(state, zone):
    """Apply the faults of dns/sigfaults.tsv in ZONE to the signed zone."""
    dns = os.path.join(state, "dns")
    path = os.path.join(dns, zone + ".zone.signed")
    with open(os.path.join(dns, "sigfaults.tsv")) as f:
        faults = [line.rstrip("\n").split("\t") for line in f]
    faults = [f[1:] for f in faults if f[0] == zone]
    if not faults:
        return
    with open(path) as f:
        lines = f.read().split("\n")
    past = None
    for owner, rtype, how in faults:
        i = rrsig_index(lines, owner, rtype, path)
        if how == "corrupt":
            # The signature is the last field, base64 without blanks.
            line = lines[i].rstrip()
            sig = line.split()[-1]
            lines[i] = line[:len(line) - len(sig)] + corrupt(sig)
        else:
            if past is None:
                past_path = os.path.join(dns, zone + ".zone.past.signed")
                with open(past_path) as f:
                    past = f.read().split("\n")
            lines[i] = past[rrsig_index(past, owner, rtype, past_path)]
    write(path + ".tmp", "\n".join(lines))
    os.replace(path + ".tmp", path)


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--break-sigs":
        break_sigs(os.path.abspath(sys.argv[2]), sys.argv[3])
        return
    if len(sys.argv) != 2:
        sys.exit("usage: gen.py STATEDIR | gen.py --break-sigs STATEDIR ZONE")
    state = os.path.abspath(sys.argv[1])
    pki = os.path.join(state, "pki")
    ngx = os.path.join(state, "nginx")
    serial = int(time.time())

    records, mx_certs, faults, servers = build_zones(serial)
    for zone, rrs in records.items():
        name = (zone or "root") + ".zone"
        origin = fqdn(zone) if zone else "."
        write(os.path.join(state, "dns", name),
              "; Generated by tests/net/gen.py; do not edit.\n"
              "$ORIGIN %s\n$TTL %d\n%s\n" % (origin, TTL, "\n".join(rrs)))
    write(os.path.join(state, "dns", "sigfaults.tsv"),
          "".join("%s\t%s\t%s\t%s\n" % f for f in faults))

    # Certificates: the default server's, one per policy host (in pki/),
    # one per DANE MX host and SMTP server (in mx/).
    certs = [("default", "test", "nginx-default.test", "pki")]
    conf = [NGINX_HEAD.format(n=ngx, p=pki, addr=NGINX_ADDR)]
    for sc in SCENARIOS:
        if not sc.get("sts", True):
            continue
        host = "mta-sts." + sc["domain"]
        cert = sc.get("cert", "test")
        if cert.startswith("san:"):
            certs.append((host, "test", cert[4:], "pki"))
        else:
            certs.append((host, cert, host, "pki"))
        body = sc.get("body", policy)(sc["domain"])
        body_path = os.path.join(state, "www", host + ".txt")
        write(body_path, body)
        if sc.get("addr", NGINX_ADDR) == SLOW_ADDR:
            continue                    # served by slowhttps.py, not nginx
        conf.append(NGINX_SERVER.format(
            addr=NGINX_ADDR, host=host, p=pki,
            action=nginx_action(sc, body_path)))
    conf.append("}\n")
    write(os.path.join(ngx, "nginx.conf"), "".join(conf))
    for sub in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        os.makedirs(os.path.join(ngx, "tmp", sub), exist_ok=True)
    certs.extend((host, issuer, san, "mx")
                 for host, (issuer, san) in mx_certs.items())
    certs.extend((host + ".other", "test", host, "mx")
                 for host, _, kind in servers if kind == "other-key")
    postfix_conf(state, servers)
    write(os.path.join(state, "certs.tsv"),
          "".join("%s\t%s\t%s\t%s\n" % c for c in certs))


if __name__ == "__main__":
    main()
