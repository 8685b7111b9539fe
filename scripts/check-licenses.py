#!/usr/bin/env python3
"""Fails when a dependency's licence is not compatible with GPL-3.0-or-later.

Reads `cargo metadata` (offline: it needs no network once the lock file's
crates are fetched). Each crate's SPDX expression must be satisfiable with
licences from ALLOWED (an OR picks any one side; AND needs all)."""
import json
import re
import subprocess
import sys

ALLOWED = {
    "MIT", "Apache-2.0", "Apache-2.0 WITH LLVM-exception", "BSD-2-Clause", "BSD-3-Clause",
    "ISC", "Zlib", "0BSD", "Unlicense", "Unicode-3.0", "Unicode-DFS-2016", "CC0-1.0",
    "MPL-2.0", "LGPL-2.1-or-later", "LGPL-3.0-or-later", "GPL-3.0-or-later", "GPL-3.0",
    "EUPL-1.2", "BSL-1.0",
}


def ok(expr):
    expr = expr.replace("/", " OR ").strip()
    # Tokenize and evaluate with precedence: WITH > AND > OR.
    tokens = re.findall(r"\(|\)|[A-Za-z0-9.+-]+", expr)
    pos = 0

    def atom():
        nonlocal pos
        if tokens[pos] == "(":
            pos += 1
            v = disj()
            pos += 1
            return v
        name = tokens[pos]
        pos += 1
        if pos < len(tokens) and tokens[pos] == "WITH":
            name += " WITH " + tokens[pos + 1]
            pos += 2
        return name in ALLOWED

    def conj():
        nonlocal pos
        v = atom()
        while pos < len(tokens) and tokens[pos] == "AND":
            pos += 1
            v = atom() and v
        return v

    def disj():
        nonlocal pos
        v = conj()
        while pos < len(tokens) and tokens[pos] == "OR":
            pos += 1
            v = conj() or v
        return v

    return disj()


def self_test():
    assert ok("MIT OR Apache-2.0") and ok("Apache-2.0/MIT") and ok("(MIT OR Apache-2.0) AND Unicode-3.0")
    assert ok("Apache-2.0 WITH LLVM-exception OR Apache-2.0 OR MIT")
    assert not ok("SSPL-1.0") and not ok("MIT AND Proprietary") and not ok("BUSL-1.1")


def main():
    self_test()
    meta = json.loads(subprocess.check_output(
        ["cargo", "metadata", "--format-version", "1", "--locked"]))
    bad = []
    for p in meta["packages"]:
        lic = p.get("license")
        if not lic or not ok(lic):
            bad.append(f"{p['name']} {p['version']}: {lic or 'no licence declared'}")
    if bad:
        print("licences not compatible with GPL-3.0-or-later:", *bad, sep="\n  ")
        return 1
    print(f"licences: {len(meta['packages'])} crates, all GPL-3.0-or-later compatible")
    return 0


if __name__ == "__main__":
    sys.exit(main())
