#!/usr/bin/env python3
"""scripts/llamacpp_table.py: the comparison table of scripts/llamacpp-compare.sh.

Reads llama.cpp's test-backend-ops perf console output (the MUL_MAT cases that
scripts/llamacpp-tq2.patch adds) and `twla bench kernels --json`, prints one table per batch
(microseconds per 16384^2 matrix, GB/s of weights read, speed-up over llama.cpp's streamed TQ2_0)
and writes the same figures as JSON (atomically).
"""
import argparse
import json
import os
import re
import sys

CASE = re.compile(r"MUL_MAT\(type_a=(\w+),type_b=f32,m=(\d+),n=(\d+),k=(\d+),bs=\[(\d+),(\d+)\][^)]*\):"
                  r".*?(\d+) runs -\s+([\d.]+) us/run")
ANSI = re.compile(r"\x1b\[[0-9;]*m")
BYTES_PER_WEIGHT = {"tq2_0": 66 / 256, "f32": 4.0}  # TQ2_0: 64 bytes of 2-bit codes + fp16 scale per 256


def fail(msg):
    sys.exit("llamacpp_table: " + msg)


def llamacpp_rows(path):
    rows = {}
    with open(path) as f:
        for line in f:
            line = ANSI.sub("", line)
            if "not supported" in line and "MUL_MAT(" in line:
                fail(f"{path}: the CPU backend reports a case as not supported: {line.strip()}")
            m = CASE.search(line)
            if not m:
                continue
            typ, mm, n, k, bs0, bs1, _runs, us = m.groups()
            mats = int(bs0) * int(bs1)
            rows[(typ, int(n), mats)] = {"us": float(us) / mats, "weight_bytes": BYTES_PER_WEIGHT[typ] * int(mm) * int(k),
                                         "matrices": mats}
    if not rows:
        fail(f"{path} has no MUL_MAT m=16384 results: was scripts/llamacpp-tq2.patch applied and the binary rebuilt?")
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    for flag in ("--llamacpp", "--twla", "--load", "--commit", "--flavour", "--json"):
        ap.add_argument(flag, required=True)
    ap.add_argument("--threads", type=int, required=True)
    a = ap.parse_args()
    ll = llamacpp_rows(a.llamacpp)
    with open(a.twla) as f:
        tw = json.load(f)
    if tw.get("shape") != [16384, 16384]:
        fail(f"{a.twla}: shape {tw.get('shape')} is not [16384, 16384]")
    with open(a.load) as f:
        load = [line.strip() for line in f if line.strip()]

    out = {"llamacpp_commit": a.commit, "llamacpp_tree": a.flavour, "threads": a.threads, "load": load,
           "twla_read_roof_gbps": tw.get("read_roof_gbps"), "batches": {}}
    print(f"\n{a.flavour} tree at {a.commit} vs twla, 16384 x 16384, {a.threads} threads; "
          f"twla read roof {tw.get('read_roof_gbps', 0):.1f} GB/s")
    for line in load:
        print("  " + line)
    batches = sorted({n for (_, n, _) in ll})
    for n in batches:
        ref = ll.get(("tq2_0", n, 16))
        if ref is None:
            fail(f"{a.llamacpp}: no streamed TQ2_0 case (bs=[16,1]) for n={n}")
        table = []
        names = {("tq2_0", 16): "llama.cpp TQ2_0, 16 matrices (DRAM)", ("tq2_0", 1): "llama.cpp TQ2_0, 1 matrix",
                 ("f32", 1): "llama.cpp F32"}
        for (typ, mats), name in names.items():
            r = ll.get((typ, n, mats))
            if r:
                table.append((name, r["us"], r["weight_bytes"] / r["us"] / 1e3))
        for key, name in (("tq2_a8", "twla tq2_a8 (x -> int8 in call)"), ("tq2_a4", "twla tq2_a4 (4-bit codes)"),
                          ("tq2_f32", "twla tq2_f32 (fp32 x)"),
                          ("openblas_sgemv" if n == 1 else "openblas_sgemm", "OpenBLAS fp32")):
            fig = tw.get("figures", {}).get(f"{key}_b{n}")
            if fig is None:
                fail(f"{a.twla}: no figure {key}_b{n}: was twla run with batch {n}?")
            table.append((name, fig["ms"] * 1e3, fig["gbps"]))
        print(f"\nbatch {n}:")
        print(f"  {'kernel':<38} {'us/matrix':>11} {'GB/s':>8} {'x llama.cpp TQ2_0 (DRAM)':>26}")
        rows = []
        for name, us, gbps in table:
            ratio = ref["us"] / us
            print(f"  {name:<38} {us:>11.1f} {gbps:>8.2f} {ratio:>26.2f}")
            rows.append({"kernel": name, "us": us, "gbps": gbps, "speedup_vs_llamacpp_tq2_dram": ratio})
        out["batches"][str(n)] = rows
    print("\nus/matrix: llama.cpp = mean us/run / matrices per op; twla = median wall ms per call.\n"
          "x llama.cpp TQ2_0 (DRAM) = that case's time / this row's time (> 1: this row is faster).")
    tmp = a.json + ".tmp"
    with open(tmp, "w") as f:
        json.dump(out, f, indent=2)
    os.replace(tmp, a.json)


if __name__ == "__main__":
    main()
