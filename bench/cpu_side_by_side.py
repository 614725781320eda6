#!/usr/bin/python3
"""Our CPU training speed against PyTorch's CPU build, side by side.

Runs, alternately and ROUNDS times over (the development machines are noisy,
so each configuration samples the same stretches of time):

  ours          repro bench -backend cpu, the environment as it is
  ours-unset    the same with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset
  torch         bench/torch_reference.py on /usr/bin/python3 (Debian's
                python3-torch), as shipped
  torch-jemalloc  the same with jemalloc preloaded and set to keep freed
                memory (the tuned peer of ../shared/DEPENDENCIES.md)

all at the same batch and threads, then prints one table per model: medians
over the rounds, the ratios to each peer, and our achieved GFLOP/s.

Usage: python3 bench/cpu_side_by_side.py [--repro ./repro] [--models resnet20,...]
       [--rounds 3] [--steps 8] [--threads 2] [--batch 128]
"""
import argparse
import os
import statistics
import subprocess
import sys

JEMALLOC = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"
JEMALLOC_CONF = "oversize_threshold:0,dirty_decay_ms:-1,muzzy_decay_ms:-1"
HERE = os.path.dirname(os.path.abspath(__file__))


def run(cmd, env):
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"{' '.join(cmd)}: exit {r.returncode}\n{r.stdout}{r.stderr}")
    return r.stdout


def ours(args, model, env):
    out = run([args.repro, "bench", "-backend", "cpu", "-models", model, "-batch", str(args.batch),
               "-steps", str(args.steps), "-threads", str(args.threads)], env)
    header = None
    for line in out.splitlines():
        if line.startswith("backend"):
            header = line.replace("median img/s", "median_img/s").replace("step ms", "step_ms") \
                .replace("issue ms", "issue_ms").replace("164ep min", "164ep_min").split()
        elif header and line.split() and line.split()[0] == "cpu":
            row = dict(zip(header, line.split()))
            return float(row["median_img/s"]), float(row["GFLOP/s"])
    sys.exit(f"repro bench printed no row for {model}:\n{out}")


def torch(args, model, env):
    out = run(["/usr/bin/python3", os.path.join(HERE, "torch_reference.py"), "--device", "cpu",
               "--models", model, "--batch", str(args.batch), "--steps", str(args.steps),
               "--threads", str(args.threads)], env)
    for line in out.splitlines():
        cols = line.split()
        if cols and cols[0].startswith("torch") and "median" in cols:
            return float(cols[cols.index("median") + 1])
    sys.exit(f"torch_reference.py printed no rate for {model}:\n{out}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repro", default="./repro")
    p.add_argument("--models", default="resnet20,resnet56,densenet-bc100,densenet40")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=128)
    args = p.parse_args()

    env = dict(os.environ)
    unset = {k: v for k, v in env.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    jem = dict(env, LD_PRELOAD=JEMALLOC, MALLOC_CONF=JEMALLOC_CONF)
    set_note = ", ".join(f"{k}={env[k]}" for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if k in env) or "neither set"
    print(f"# batch {args.batch}, {args.threads} threads, {args.rounds} rounds of {args.steps} steps, "
          f"alternating; environment: {set_note}", flush=True)
    configs = [
        ("ours", lambda m: ours(args, m, env)),
        ("ours-unset", lambda m: ours(args, m, unset)),
        ("torch", lambda m: (torch(args, m, env), None)),
        ("torch-jemalloc", lambda m: (torch(args, m, jem), None)),
    ]
    if not os.path.exists(JEMALLOC):
        print(f"# {JEMALLOC} missing (Debian libjemalloc2): no tuned peer", flush=True)
        configs.pop()
    rows = []
    for model in args.models.split(","):
        rates = {name: [] for name, _ in configs}
        gflops = []
        for r in range(args.rounds):
            for name, f in configs:
                rate, gf = f(model)
                rates[name].append(rate)
                if gf is not None:
                    gflops.append(gf)
                print(f"#   {model} round {r + 1}: {name} {rate:.1f} img/s", flush=True)
        med = {name: statistics.median(v) for name, v in rates.items()}
        rows.append((model, med, statistics.median(gflops), rates))
    print()
    names = [n for n, _ in configs]
    print(f"{'model':<16}" + "".join(f" {n:>15}" for n in names) + f" {'ours/torch':>11} {'ours/jemalloc':>14} {'ours GFLOP/s':>13}")
    for model, med, gf, _ in rows:
        line = f"{model:<16}" + "".join(f" {med[n]:>15.1f}" for n in names)
        line += f" {med['ours'] / med['torch']:>10.2f}x"
        line += f" {med['ours'] / med['torch-jemalloc']:>13.2f}x" if "torch-jemalloc" in med else f" {'-':>14}"
        line += f" {gf:>13.1f}"
        print(line, flush=True)


if __name__ == "__main__":
    main()
