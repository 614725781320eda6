#!/usr/bin/env python3
"""GPU time of each kernel in one training step of repro, from Nsight Compute.

`repro bench -profile` times ops from the host, each one waited for, which
adds the launch and the wait to every op. This reads the device's own
duration of every kernel instead:

    ncu --metrics gpu__time_duration.sum --csv \\
        repro bench -backend cuda -graphs=false -models resnet56 -steps 1 -warmup 2 > ncu.csv
    scripts/kernel-times.py ncu.csv

It takes the last complete training step in the log (from a build_batch
kernel to the sgd_step or adam_step kernel after it; evaluation batches
have no optimizer step), sums the durations by kernel name, and prints them
most time first, with the step's total GPU time.
"""
import csv
import sys

# ncu writes the unit in either form, depending on its version
UNITS = {"nsecond": 1e-3, "ns": 1e-3, "usecond": 1.0, "us": 1.0, "msecond": 1e3, "ms": 1e3, "second": 1e6, "s": 1e6}


def kernels(path):
    """(name, microseconds) of each profiled kernel, in launch order."""
    with open(path, newline="") as f:
        lines = f.read().splitlines(keepends=True)
    # the program's own output and ncu's ==PROF== lines come before the table
    start = next((i for i, l in enumerate(lines) if l.startswith('"ID"')), len(lines))
    lines = [l for l in lines[start:] if l.startswith('"')]
    out = []
    for row in csv.DictReader(lines):
        if row.get("Metric Name") != "gpu__time_duration.sum":
            continue
        value = float(row["Metric Value"].replace(",", ""))
        unit = row["Metric Unit"]
        if unit not in UNITS:
            sys.exit(f"{path}: unknown time unit {unit!r}")
        out.append((row["Kernel Name"], value * UNITS[unit]))
    return out


def last_step(ks):
    end = None
    for i in range(len(ks) - 1, -1, -1):
        name = ks[i][0]
        if end is None and (name.startswith("sgd_step") or name.startswith("adam_step")):
            end = i
        elif end is not None and name.startswith("build_batch"):
            return ks[i:end + 1]
    return []


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    step = last_step(kernels(sys.argv[1]))
    if not step:
        sys.exit(f"{sys.argv[1]}: no complete training step (build_batch ... sgd_step) in the profile")
    total = sum(us for _, us in step)
    by = {}
    for name, us in step:
        n, t = by.get(name, (0, 0.0))
        by[name] = (n + 1, t + us)
    print(f"one training step: {len(step)} kernels, {total / 1000:.3f} ms of GPU time")
    print(f"{'kernel':<72} {'calls':>6} {'us':>10} {'share':>7}")
    for name, (n, us) in sorted(by.items(), key=lambda kv: -kv[1][1]):
        short = name if len(name) <= 72 else name[:69] + "..."
        print(f"{short:<72} {n:>6} {us:>10.1f} {100 * us / total:>6.1f}%")


if __name__ == "__main__":
    main()
