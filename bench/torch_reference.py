#!/usr/bin/env python3
"""PyTorch peer for `repro bench`: the same CIFAR models, batch and step.

Trains ResNet (He et al. 2015, option-A shortcuts) and DenseNet (Huang et al.)
exactly as repro defines them -- same layers, same parameter counts, SGD with
momentum 0.9 and weight decay 1e-4, softmax cross-entropy -- on random input,
and prints the median training images/s over timed steps after a warm-up,
one line per model:

    torch  resnet20  batch 128  params 269722  median 512.3 img/s  (steps 20, threads 2, cpu)

Usage: python3 bench/torch_reference.py [--models resnet20,resnet56]
       [--batch 128] [--steps 20] [--warmup 3] [--threads 2] [--device cpu|cuda]
       [--tf32 on|off] [--modes eager,compile] [--channels-last] [--ours BENCH.txt]

With --ours (the output of `repro bench` on the same models and batch), it
ends with one table of both and the ratios.

The peer for our figures is channels-first (NCHW), as our CUDA backend keeps
activations; --channels-last shows what cuDNN's NHWC kernels would give.
"""
import argparse
import os
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class ShortcutA(nn.Module):
    def __init__(self, planes_in, planes_out, stride):
        super().__init__()
        self.stride = stride
        self.pad = (planes_out - planes_in) // 2

    def forward(self, x):
        x = x[:, :, ::self.stride, ::self.stride]
        return F.pad(x, (0, 0, 0, 0, self.pad, self.pad))


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.short = ShortcutA(cin, cout, stride) if (stride != 1 or cin != cout) else nn.Identity()

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.short(x))


class ResNet(nn.Module):
    def __init__(self, depth, classes=10):
        super().__init__()
        n = (depth - 2) // 6
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        layers, cin = [], 16
        for stage, width in enumerate([16, 32, 64]):
            for i in range(n):
                stride = 2 if stage > 0 and i == 0 else 1
                layers.append(Block(cin, width, stride))
                cin = width
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(64, classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layers(x)
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.fc(x)


class DenseLayer(nn.Module):
    def __init__(self, cin, k, bottleneck):
        super().__init__()
        self.bottleneck = bottleneck
        self.bn1 = nn.BatchNorm2d(cin)
        if bottleneck:
            self.conv1 = nn.Conv2d(cin, 4 * k, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(4 * k)
            self.conv2 = nn.Conv2d(4 * k, k, 3, 1, 1, bias=False)
        else:
            self.conv2 = nn.Conv2d(cin, k, 3, 1, 1, bias=False)

    def forward(self, x):
        out = F.relu(self.bn1(x))
        if self.bottleneck:
            out = F.relu(self.bn2(self.conv1(out)))
        out = self.conv2(out)
        return torch.cat([x, out], 1)


class Transition(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.bn = nn.BatchNorm2d(cin)
        self.conv = nn.Conv2d(cin, cout, 1, bias=False)

    def forward(self, x):
        return F.avg_pool2d(self.conv(F.relu(self.bn(x))), 2)


class DenseNet(nn.Module):
    def __init__(self, depth, k=12, bottleneck=False, compression=1.0, classes=10):
        super().__init__()
        n = (depth - 4) // (6 if bottleneck else 3)
        c = 2 * k if bottleneck else 16
        mods = [nn.Conv2d(3, c, 3, 1, 1, bias=False)]
        for b in range(3):
            for _ in range(n):
                mods.append(DenseLayer(c, k, bottleneck))
                c += k
            if b < 2:
                out = int(c * compression)
                mods.append(Transition(c, out))
                c = out
        self.features = nn.Sequential(*mods)
        self.bn = nn.BatchNorm2d(c)
        self.fc = nn.Linear(c, classes)

    def forward(self, x):
        x = F.relu(self.bn(self.features(x)))
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.fc(x)


def build(name):
    if name.startswith("resnet"):
        return ResNet(int(name[len("resnet"):]))
    if name.startswith("densenet-bc"):
        return DenseNet(int(name[len("densenet-bc"):]), bottleneck=True, compression=0.5)
    if name.startswith("densenet"):
        return DenseNet(int(name[len("densenet"):]))
    raise SystemExit(f"unknown model {name!r}")


def bench(name, args, compiled):
    dev = torch.device(args.device)
    fmt = torch.channels_last if args.channels_last else torch.contiguous_format
    model = build(name).to(dev, memory_format=fmt).train()
    params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    step_model = torch.compile(model) if compiled else model
    x = torch.randn(args.batch, 3, 32, 32, device=dev).contiguous(memory_format=fmt)
    y = torch.randint(0, 10, (args.batch,), device=dev)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(step_model(x), y)
        loss.backward()
        opt.step()

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize()

    for _ in range(args.warmup):
        step()
    sync()
    times = []
    for _ in range(args.steps):
        t0 = time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    if args.profile and dev.type == "cuda":
        from torch.profiler import ProfilerActivity, profile
        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            for _ in range(3):
                step()
            sync()
        events = prof.key_averages()
        if not events:
            raise RuntimeError("torch.profiler recorded no CUDA kernels")
        key = "self_device_time_total" if hasattr(events[0], "self_device_time_total") else "self_cuda_time_total"
        total = sum(getattr(e, key) for e in events) / 3
        print(f"# torch {name}: GPU time per step {total / 1000:.3f} ms; kernels by GPU time (per step, us):")
        for e in sorted(events, key=lambda e: -getattr(e, key))[:25]:
            print(f"#   {e.key[:70]:<70} {e.count / 3:6.1f} {getattr(e, key) / 3:10.1f}")
    mem, peak = "", None
    if dev.type == "cuda":
        peak = torch.cuda.max_memory_allocated() / 2**20
        mem = f"  peak {peak:.0f} MiB"
        torch.cuda.reset_peak_memory_stats()
    mode = ("compile" if compiled else "eager") + ("-nhwc" if args.channels_last else "")
    rate = args.batch / med
    print(f"torch-{mode}  {name}  batch {args.batch}  params {params}  median {rate:.1f} img/s"
          f"  (steps {args.steps}, threads {torch.get_num_threads()}, {args.device}){mem}", flush=True)
    return rate, peak


def read_ours(path):
    """The rows of a `repro bench` table: model -> (img/s, MiB)."""
    rows = {}
    if not os.path.exists(path):
        print(f"# {path}: missing (its bench did not run)")
        return rows
    with open(path) as f:
        header = None
        for line in f:
            cols = line.split()
            if not cols or line.startswith("#"):
                continue
            if cols[0] == "backend":
                header = line.replace("median img/s", "median_img/s").replace("step ms", "step_ms") \
                    .replace("issue ms", "issue_ms").replace("164ep min", "164ep_min").split()
                continue
            if header and len(cols) == len(header):
                row = dict(zip(header, cols))
                rows[row["model"]] = (float(row["median_img/s"]), float(row["MiB"]), row["backend"])
    return rows


def table(ours, results, modes):
    """One table: our rate, PyTorch's per mode, and the ratios."""
    head = f"{'model':<16} {'ours img/s':>11}"
    for m in modes:
        head += f" {'torch ' + m:>14} {'ours/' + m:>14}"
    head += f" {'ours MiB':>9} {'torch MiB':>9}"
    print(head)
    for name, per_mode in results.items():
        o = ours.get(name)
        line = f"{name:<16} {o[0] if o else float('nan'):>11.1f}"
        peak = None
        for m in modes:
            rate, pk = per_mode.get(m, (None, None))
            peak = peak if peak is not None else pk
            ratio = f"{o[0] / rate:.2f}x" if (o and rate) else "-"
            line += f" {rate if rate else float('nan'):>14.1f} {ratio:>14}"
        line += f" {o[1] if o else float('nan'):>9.0f} {peak if peak is not None else float('nan'):>9.0f}"
        print(line, flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default="resnet20,resnet56,densenet-bc100,densenet40")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cpu")
    p.add_argument("--tf32", choices=["on", "off"], default="on")
    p.add_argument("--compile", action="store_true", help="same as --modes compile")
    p.add_argument("--modes", default="eager", help="comma-separated: eager, compile (torch.compile)")
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--profile", action="store_true", help="cuda: also print the GPU time of each kernel of a step (torch.profiler)")
    p.add_argument("--ours", action="append", default=[],
                   help="a `repro bench` table to print side by side, with the ratios (repeatable: one table each)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.backends.cudnn.benchmark = True
    torch.backends.cudnn.allow_tf32 = args.tf32 == "on"
    torch.backends.cuda.matmul.allow_tf32 = args.tf32 == "on"
    modes = ["compile"] if args.compile else [m.strip() for m in args.modes.split(",")]
    results = {}
    for name in args.models.split(","):
        name = name.strip()
        results[name] = {}
        for mode in modes:
            try:
                results[name][mode] = bench(name, args, mode == "compile")
            except Exception as e:  # torch.compile is not available everywhere
                print(f"torch-{mode}  {name}: failed: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}", flush=True)
    for path in args.ours:
        print(f"\n# ours: {path}")
        table(read_ours(path), results, modes)


if __name__ == "__main__":
    main()
