#!/usr/bin/env python3
"""Memory of running mvm VMs from /proc/PID/smaps (used by bench/snapshot.sh
and bench/density.sh).

    bench/smaps.py MEM_MIB PID...

Each PID is a top-level `mvm run` process; its children (the sandboxed VMM,
when the sandbox is on) are included. Prints one JSON object per PID:
  guest_*   the guest-memory mapping (the one of exactly MEM_MIB MiB: an
            anonymous mapping on a cold boot, DIR/mem mapped private on a
            restore): rss, pss, shared_clean, shared_dirty, private_clean,
            private_dirty in KiB
  total_*   the same summed over every mapping of the PID and its children
  nproc     processes counted
and a last line {"sum": ...} with the totals over all PIDs. Pss (the
proportional share of each shared page) summed over all processes is what
they cost the host together.
"""
import json
import os
import sys

FIELDS = ("Rss", "Pss", "Shared_Clean", "Shared_Dirty", "Private_Clean",
          "Private_Dirty")


def children(pid):
    out = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out += [int(c) for c in f.read().split()]
    except OSError:
        pass
    return out


def smaps(pid, mem_kib):
    guest = dict.fromkeys(FIELDS, 0)
    total = dict.fromkeys(FIELDS, 0)
    cur = None
    try:
        f = open(f"/proc/{pid}/smaps")
    except OSError:
        return guest, total, False
    with f:
        for line in f:
            k, _, rest = line.partition(":")
            if " " in k:
                cur = None  # a mapping header line
                continue
            if k == "Size":
                cur = int(rest.split()[0]) == mem_kib
            elif k in FIELDS:
                v = int(rest.split()[0])
                total[k] += v
                if cur:
                    guest[k] += v
    return guest, total, True


def main():
    mem_kib = int(sys.argv[1]) * 1024
    s = {}
    for arg in sys.argv[2:]:
        pending, seen = [int(arg)], []
        g = dict.fromkeys(FIELDS, 0)
        t = dict.fromkeys(FIELDS, 0)
        while pending:
            p = pending.pop()
            gp, tp, ok = smaps(p, mem_kib)
            if not ok:
                continue
            seen.append(p)
            for k in FIELDS:
                g[k] += gp[k]
                t[k] += tp[k]
            pending += children(p)
        row = {"pid": int(arg), "nproc": len(seen)}
        row.update({"guest_" + k.lower(): v for k, v in g.items()})
        row.update({"total_" + k.lower(): v for k, v in t.items()})
        print(json.dumps(row))
        for k, v in row.items():
            if k != "pid":
                s[k] = s.get(k, 0) + v
    print(json.dumps({"sum": s}))


if __name__ == "__main__":
    main()
