#!/usr/bin/env python3
"""check-symbols.py MAP HEADER LIB: the exported symbols of LIB, the
global names of the version script MAP and the TLSPOL_EXPORT declarations
of HEADER must be the same set; every export must carry a version node.
Prints each difference and exits 1 if there is one."""

import re
import subprocess
import sys


def map_symbols(path):
    text = re.sub(r"#.*", "", open(path).read())
    names = set()
    for block in re.findall(r"global:(.*?)(?:local:|\})", text, re.S):
        names.update(n.strip() for n in block.split(";") if n.strip())
    return names


def header_symbols(path):
    text = open(path).read()
    # declarations: TLSPOL_EXPORT <type>\n<name>(
    return set(re.findall(r"TLSPOL_EXPORT[^;(]*?\n(tlspol_\w+)\(", text))


def lib_symbols(path):
    out = subprocess.run(["nm", "-D", "--defined-only", path],
                         check=True, capture_output=True, text=True).stdout
    names, unversioned = set(), []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 3 or parts[1] not in "TDBRW":
            continue
        name = parts[2]
        base = name.split("@")[0]
        if base.startswith("TLSPOL_"):
            continue  # version node definitions
        names.add(base)
        if "@@TLSPOL_" not in name:
            unversioned.append(name)
    return names, unversioned


def main():
    mp, hdr, lib = sys.argv[1:4]
    m, h = map_symbols(mp), header_symbols(hdr)
    so, unversioned = lib_symbols(lib)
    bad = 0
    for label, a, b in (("in map, not in header", m, h),
                        ("in header, not in map", h, m),
                        ("exported, not in map", so, m),
                        ("in map, not exported", m, so)):
        for n in sorted(a - b):
            print(f"{label}: {n}")
            bad = 1
    for n in unversioned:
        print(f"exported without a TLSPOL_ version: {n}")
        bad = 1
    print(f"{len(so)} exported symbols, {len(m)} in map, {len(h)} in header")
    sys.exit(bad)


main()
