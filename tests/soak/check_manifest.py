#!/usr/bin/env python3
"""Checks a soak_worker MANIFEST against a tree: every file's FNV-1a 64,
size, mode and owner, every symlink's target.
usage: check_manifest.py ROOT_OF_WORK_DIR  (the dir that holds MANIFEST)"""
import os
import sys


def fnv(data):
    h = 0xcbf29ce484222325
    for b in data:
        h ^= b
        h = (h * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


def main():
    root = sys.argv[1]
    bad = 0
    with open(os.path.join(root, "MANIFEST")) as m:
        lines = m.read().splitlines()
    for line in lines:
        kind, rest = line.split(" ", 1)
        if kind == "f":
            h, size, mode, uid, path = rest.split(" ", 4)
            p = root + path
            st = os.lstat(p)
            with open(p, "rb") as f:
                data = f.read()
            got = "%016x %d %o %d" % (fnv(data), len(data), st.st_mode & 0o7777, st.st_uid)
            want = "%s %s %s %s" % (h, size, mode, uid)
            if got != want:
                print("differs: %s: %s, manifest %s" % (path, got, want))
                bad += 1
        elif kind == "l":
            target, path = rest.rsplit(" ", 1)
            if os.readlink(root + path) != target:
                print("link differs: %s" % path)
                bad += 1
    print("%d entries, %d differ" % (len(lines), bad))
    return 1 if bad else 0


sys.exit(main())
