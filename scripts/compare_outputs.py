#!/usr/bin/env python3
"""Helpers of scripts/compare-outputs.sh (stdlib only).

  compare_outputs.py masks                          print the mask table
  compare_outputs.py compare OLD_DIR NEW_DIR JOB RESULTS.jsonl [--no-masks]
                                                    compare one job's two output trees,
                                                    append the result to RESULTS.jsonl and
                                                    print a one-line verdict
  compare_outputs.py summary RESULTS.jsonl NJOBS    the final report; exit 1 if anything differs
                                                    or fewer than NJOBS jobs were compared
  compare_outputs.py skew-trace IN OUT              IN with per-device overrides (non-symmetric ring)
  compare_outputs.py order-traces TRACE...          the traces, most expensive first

The masks are the only liberty the comparison takes; the reason for each is
in compare-outputs.sh's header. Each applies to the files whose name matches
its glob and replaces a figure that measures the run (wall-clock time, a rate
derived from it), never a simulated one.
"""

import fnmatch
import json
import os
import re
import sys

# (name, file globs, pattern, replacement). Patterns are bytes regexes so that
# non-UTF-8 files are compared as they are.
MASKS = [
    (
        "replay-wall",
        ["*.stdout"],
        rb"(?m)^(.* on \S+ \xe2\x80\x94 )[0-9]+(?:\.[0-9]+)? s wall$",
        rb"\1<wall> s wall",
    ),
    (
        "paper-elapsed",
        ["*.stdout", "summary.md"],
        rb"(?m)^(# t3sim paper: .*) \([0-9]+(?:\.[0-9]+)? s\)$",
        rb"\1 (<wall> s)",
    ),
    (
        "paper-note-elapsed",
        ["*.stderr"],
        rb"(?m)^(replayed [0-9]+ sub-layers in )[0-9]+(?:\.[0-9]+)? s;",
        rb"\1<wall> s;",
    ),
    (
        "cosim-note-elapsed",
        ["*.stderr"],
        rb"(?m)^(cosim [a-z_]+ \([a-z0-9-]+\): .*, no divergence )\([0-9]+(?:\.[0-9]+)? s\)$",
        rb"\1(<wall> s)",
    ),
    (
        "cosim-wall-s",
        ["report.json", "*.stdout"],
        rb'("wall_s": )-?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?',
        rb"\1<wall>",
    ),
    (
        "sweep-note-elapsed",
        ["*.stderr"],
        rb"(?m)(: [0-9]+ (?:of [0-9]+ )?points?; [0-9]+ run in )[0-9]+(?:\.[0-9]+)? s(\)?)$",
        rb"\1<wall> s\2",
    ),
    (
        "cosim-cmd-rate",
        ["*.stdout"],
        rb"(?m)^([a-z_]+ +[0-9]+ cycles, seed [0-9]+, no divergence )\([0-9]+(?:\.[0-9]+)? M cycles/s\)$",
        rb"\1(<rate> M cycles/s)",
    ),
]
COMPILED = [(n, g, re.compile(p), r) for n, g, p, r in MASKS]

CHUNK = 1 << 20
# Differences shown with their first differing line; the rest by name only.
SHOWN = 40


def masks_for(name):
    return [m for m in COMPILED if any(fnmatch.fnmatch(name, g) for g in m[1])]


def apply_masks(data, masks, counts):
    for name, _, rx, repl in masks:
        data, n = rx.subn(repl, data)
        if n:
            counts[name] = counts.get(name, 0) + n
    return data


def tree(root):
    out = []
    for d, dirs, files in os.walk(root):
        dirs.sort()
        for f in files:
            out.append(os.path.relpath(os.path.join(d, f), root))
    return sorted(out)


def is_binary(name, data):
    return name.endswith(".png") or b"\0" in data[:8192]


def first_difference(name, a, b):
    """Where a and b (already masked) first differ, as a short text."""
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i : i + CHUNK] == b[i : i + CHUNK]:
        i += CHUNK
    while i < n and a[i] == b[i]:
        i += 1
    if is_binary(name, a) or is_binary(name, b):
        return f"byte offset {i} (sizes {len(a)} / {len(b)} B)"
    line = a.count(b"\n", 0, i) + 1
    start = a.rfind(b"\n", 0, i) + 1
    col = i - start

    def excerpt(x):
        end = x.find(b"\n", start)
        end = len(x) if end < 0 else end
        lo = max(start, start + col - 60)
        text = x[lo : min(end, lo + 160)].decode("utf-8", "replace")
        return ("..." if lo > start else "") + text

    if i == n:
        longer = "old" if len(a) > len(b) else "new"
        return f"line {line}: one file ends here, {longer} goes on (sizes {len(a)} / {len(b)} B)"
    return f"line {line} col {col + 1}:\n      old: {excerpt(a)}\n      new: {excerpt(b)}"


def read(path):
    with open(path, "rb") as f:
        return f.read()


def same_raw(pa, pb):
    if os.path.getsize(pa) != os.path.getsize(pb):
        return False
    with open(pa, "rb") as fa, open(pb, "rb") as fb:
        while True:
            x, y = fa.read(CHUNK), fb.read(CHUNK)
            if x != y:
                return False
            if not x:
                return True


def compare(old_dir, new_dir, job, use_masks):
    files_a, files_b = set(tree(old_dir)), set(tree(new_dir))
    diffs, counts, nonzero = [], {}, []
    identical = 0
    for rel in sorted(files_a | files_b):
        if rel not in files_b or rel not in files_a:
            side = "old" if rel in files_a else "new"
            diffs.append({"file": f"{job}/{rel}", "where": f"only in {side}"})
            continue
        pa, pb = os.path.join(old_dir, rel), os.path.join(new_dir, rel)
        if rel.endswith(".rc"):
            rc = read(pa).strip().decode()
            if rc != "0":
                nonzero.append(f"{job}/{rel[:-3]}: exit {rc}")
        masks = masks_for(os.path.basename(rel)) if use_masks else []
        if not masks and same_raw(pa, pb):
            identical += 1
            continue
        a, b = read(pa), read(pb)
        if masks:
            a, b = apply_masks(a, masks, counts), apply_masks(b, masks, counts)
        if a == b:
            identical += 1
        else:
            diffs.append({"file": f"{job}/{rel}", "where": first_difference(rel, a, b)})
    commands = sum(1 for f in files_a if f.endswith(".rc"))
    return {
        "job": job,
        "commands": commands,
        "files": len(files_a | files_b),
        "identical": identical,
        "diffs": diffs,
        "masked": counts,
        "nonzero": nonzero,
    }


def summary(path, expected):
    with open(path) as f:
        rs = [json.loads(line) for line in f if line.strip()]
    commands = sum(r["commands"] for r in rs)
    files = sum(r["files"] for r in rs)
    identical = sum(r["identical"] for r in rs)
    diffs = [d for r in rs for d in r["diffs"]]
    masked = {}
    for r in rs:
        for k, v in r["masked"].items():
            masked[k] = masked.get(k, 0) + v
    nonzero = [x for r in rs for x in r["nonzero"]]
    print(f"jobs {len(rs)}, commands run {commands} per binary, files compared {files}: "
          f"{identical} identical, {len(diffs)} different")
    if masked:
        print("masked (substitutions over both sides): "
              + ", ".join(f"{k} {v}" for k, v in sorted(masked.items())))
    else:
        print("masked: nothing")
    if nonzero:
        print(f"commands that exited non-zero on the old binary (expected for the bad inputs; "
              f"the exit code is compared like any output): {sum(len(r['nonzero']) for r in rs)}")
        for r in rs:
            if r["nonzero"]:
                codes = sorted({x.rsplit(" ", 1)[1] for x in r["nonzero"]})
                labels = [x.split(": exit")[0].rsplit("/", 1)[1] for x in r["nonzero"]]
                shown = ", ".join(labels[:4]) + (", ..." if len(labels) > 4 else "")
                print(f"  {r['job']}: {len(labels)} of {r['commands']} (exit {'/'.join(codes)}): {shown}")
    for d in diffs[:SHOWN]:
        print(f"DIFFERENT {d['file']}: {d['where']}")
    if len(diffs) > SHOWN:
        print(f"... and {len(diffs) - SHOWN} more different files:")
        for d in diffs[SHOWN:]:
            print(f"DIFFERENT {d['file']}")
    if len(rs) != expected:
        print(f"error: {expected - len(rs)} of {expected} jobs were not compared (a runner failed)")
        return 1
    return 1 if diffs else 0


def skew_trace(src, dst):
    with open(src) as f:
        t = json.load(f)
    tp = t["tp"]
    # One override of each kind, on three different devices.
    t["devices"] = [
        {"device": 1 % tp, "compute_scale": 0.8},
        {"device": 2 % tp, "link_bw_scale": 0.9},
        {"device": 3 % tp, "mem_bw_scale": 0.85},
    ]
    t["name"] = t["name"] + "-skew"
    with open(dst, "w") as f:
        json.dump(t, f, indent=2)
        f.write("\n")


def order_traces(paths):
    def cost(p):
        with open(p) as f:
            t = json.load(f)
        g = [o for o in t["ops"] if o.get("kind") == "gemm"]
        # GEMM MACs per device plus the reduce-scatter's elements: enough to
        # start the longest replays first.
        return sum(o["m"] * o["n"] * (o["k"] + 64) for o in g)

    for p in sorted(paths, key=lambda p: (-cost(p), p)):
        print(p)


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    cmd = argv[1]
    if cmd == "masks":
        for n, g, p, _ in MASKS:
            print(f"{n:20} {' '.join(g):22} {p.decode()}")
        return 0
    if cmd == "compare" and len(argv) in (6, 7):
        use = not (len(argv) == 7 and argv[6] == "--no-masks")
        r = compare(argv[2], argv[3], argv[4], use)
        with open(argv[5], "a") as f:
            f.write(json.dumps(r) + "\n")
        d = len(r["diffs"])
        print(f"{r['files']} files, " + ("identical" if not d else f"{d} DIFFERENT"))
        return 0
    if cmd == "summary" and len(argv) == 4:
        return summary(argv[2], int(argv[3]))
    if cmd == "skew-trace" and len(argv) == 4:
        skew_trace(argv[2], argv[3])
        return 0
    if cmd == "order-traces":
        order_traces(argv[2:])
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
