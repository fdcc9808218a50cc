#!/usr/bin/env python3
"""Generate the data of libtlspol's hermetic test network from one table.

Usage: gen.py STATEDIR

Writes, below STATEDIR (all paths absolute in the generated configs):
  dns/root.zone dns/test.zone dns/insecure.test.zone   unsigned zone files
                                                       (netup.sh signs the
                                                       first two)
  www/<policy host>.txt                                policy bodies
  nginx/nginx.conf                                     one server per host
  certs.tsv                                            leaf certificates for
                                                       netup.sh to issue:
                                                       name, issuer, SAN

SCENARIOS below is the single source of truth for the MTA-STS scenarios;
README.md documents each row and the behaviour RFC 8461 expects from it.
Standard library only; no network access.
"""

import os
import sys
import time

# Addresses inside the namespace (see README.md, "Address plan").
NS_ADDR = "127.0.0.2"        # NSD, authoritative for ".", "test.", ...
NGINX_ADDR = "127.0.1.1"     # nginx: every ordinary policy host
SLOW_ADDR = "127.0.1.2"      # slowhttps.py: mta-sts.slow.test
MX_NET = "127.0.2."          # MX hosts: 127.0.2.1, .2, ... one per host

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


# One row per scenario. Keys (all optional except "domain"):
#   mx      [(preference, host)], host relative to domain; default mx1
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
SCENARIOS = [
    dict(domain="enforce.test", ctype="text/plain; charset=utf-8"),
    dict(domain="testing.test", body=lambda d: policy(d, mode="testing")),
    dict(domain="none.test", body=lambda d: policy(d, mode="none", mx=[])),
    dict(domain="wildcard.test",
         mx=[(10, "mx1"), (20, "deep.sub")],
         body=lambda d: policy(d, mx=["*." + d])),
    dict(domain="multi-mx.test",
         mx=[(10, "mx1"), (20, "mx2")],
         body=lambda d: policy(d, mx=["mx1." + d, "mx2." + d])),
    dict(domain="mx-mismatch.test",
         body=lambda d: policy(d, mx=["mail.elsewhere.test"])),
    dict(domain="no-txt.test", txt=None),
    dict(domain="bad-txt.test", txt=[["v=STSv1; id=bad-id!"]]),
    dict(domain="two-txt.test",
         txt=[["v=STSv1; id=one1"], ["v=STSv1; id=two2"]]),
    dict(domain="split-txt.test", txt=[["v=STSv1; ", "id=split1"]]),
    dict(domain="ext-txt.test", txt=[["v=STSv1; id=ext1; foo=bar"]]),
    dict(domain="cname-txt.test", txt_cname="_mta-sts.enforce.test."),
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
    dict(domain="big-maxage.test",
         body=lambda d: policy(d, max_age="9999999999")),
    dict(domain="crlf.test", body=lambda d: policy(d, eol="\r\n")),
    dict(domain="unknown-keys.test",
         body=lambda d: policy(d, extra=["foo: bar", "x_ext.1: some value"])),
    dict(domain="slow.test", addr=SLOW_ADDR),
    dict(domain="no-addr.test", addr=None),
    # The unsigned child zone itself: a complete enforce setup whose DNS
    # validates as insecure (MTA-STS does not depend on DNSSEC).
    dict(domain="insecure.test"),
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


def build_zones(serial):
    records = {zone: [] for zone in ZONES}

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
        for pref, host in sc.get("mx", [(10, "mx1")]):
            mx_index += 1
            if mx_index > 254:
                raise ValueError("too many MX hosts for " + MX_NET + "0/24")
            add(d, TTL, "MX", "%d %s" % (pref, fqdn(host + "." + d)))
            add(host + "." + d, TTL, "A", MX_NET + str(mx_index))
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
    return records


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


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: gen.py STATEDIR")
    state = os.path.abspath(sys.argv[1])
    pki = os.path.join(state, "pki")
    ngx = os.path.join(state, "nginx")
    serial = int(time.time())

    for zone, rrs in build_zones(serial).items():
        name = (zone or "root") + ".zone"
        origin = fqdn(zone) if zone else "."
        write(os.path.join(state, "dns", name),
              "; Generated by tests/net/gen.py; do not edit.\n"
              "$ORIGIN %s\n$TTL %d\n%s\n" % (origin, TTL, "\n".join(rrs)))

    # Certificates: the default server's, one per policy host.
    certs = [("default", "test", "nginx-default.test")]
    conf = [NGINX_HEAD.format(n=ngx, p=pki, addr=NGINX_ADDR)]
    for sc in SCENARIOS:
        host = "mta-sts." + sc["domain"]
        cert = sc.get("cert", "test")
        if cert.startswith("san:"):
            certs.append((host, "test", cert[4:]))
        else:
            certs.append((host, cert, host))
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
    write(os.path.join(state, "certs.tsv"),
          "".join("%s\t%s\t%s\n" % c for c in certs))


if __name__ == "__main__":
    main()
