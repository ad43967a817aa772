#!/usr/bin/python3
"""Calibration cost against one fp32 pass (issue 11, "Speed": calibration of 1,000 samples on the
zoo's largest classification model at most 2x one fp32 pass).

The model: torchvision's vit_b_16 (86.6M parameters, 17.6 GFLOPs per 224 x 224 image: the largest
classification model of tools/zoo by both), random weights made realistic as tools/zoo/gen_zoo.py
does, exported by torch.onnx at opset 13 with a batch axis. At 224 one fp32 pass over 1,000 images
takes minutes on a shared 2-core machine, so by default it is exported here at --size 112 (ViT's
image_size=112: 7 x 7 patches + the class token, 50 tokens instead of 197, about 4.3 GFLOPs); --model
takes any other file (the zoo's 224 export, say).

The data: --n random images (PNG, --size x --size, one class subfolder so that `cquant eval` has
labels) written once; both passes read them through the same image-folder source (decoding is a few
microseconds per image). One round runs `cquant eval --exec float --data DIR` (one fp32 pass) and
`cquant ptq MODEL --calib DIR --act-method M` for each method; the figure is the us per sample each
prints for its loop over the data (the pass, or the calibration: run plus observers). --repeat
rounds, alternating; medians; the ratio is calibration / fp32 pass. The CPU time (user + system) of
each whole command is printed too: on a loaded machine the wall times follow the load more than
the work.

usage: calib_speed.py [--model M.onnx] [--size 112] [--n 1000] [--batch 100] [--repeat 3]
                      [--methods minmax,entropy] [--cquant build/cquant] [--threads T] [--work DIR]
"""
import argparse
import os
import re
import resource
import statistics
import struct
import subprocess
import sys
import time
import zlib

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def export_vit(path, size):
    import warnings
    import torch
    import torchvision
    sys.path.insert(0, os.path.join(ROOT, "tools", "zoo"))
    import gen_zoo
    torch.manual_seed(0)
    model = torchvision.models.vit_b_16(weights=None, image_size=size)
    x = np.random.default_rng(1).standard_normal((1, 3, size, size)).astype(np.float32)
    gen_zoo.realistic(model, "classification", {"input": x})
    model.eval()
    with warnings.catch_warnings():  # no torch.no_grad(): see gen_zoo.export
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.from_numpy(x),), path, opset_version=13, input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}, do_constant_folding=True)


def png(px):
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    h, w = px.shape[:2]
    raw = b"".join(b"\x00" + px[y].tobytes() for y in range(h))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(raw, 1))
            + chunk(b"IEND", b""))


def images(d, n, size):
    sub = os.path.join(d, "0")
    if os.path.isdir(sub) and len(os.listdir(sub)) == n:
        return
    os.makedirs(sub, exist_ok=True)
    for f in os.listdir(sub):
        os.remove(os.path.join(sub, f))
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:size, 0:size]
    for k in range(n):  # smooth gradients plus noise, a different mix per image
        a = rng.uniform(0, 255, 3)
        base = np.stack([xx * a[0] / size, yy * a[1] / size, (xx + yy) * a[2] / (2 * size)], axis=2)
        px = np.clip(base + rng.normal(0, 30, (size, size, 3)), 0, 255).astype(np.uint8)
        with open(os.path.join(sub, f"{k:05d}.png"), "wb") as f:
            f.write(png(px))


def run(cmd):
    """stdout, wall seconds and CPU seconds (user + system) of the process."""
    t = time.time()
    c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    r = subprocess.run(cmd, capture_output=True, text=True)
    c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode:
        sys.exit(f"failed: {' '.join(cmd)}\n{r.stdout}{r.stderr}")
    return r.stdout, time.time() - t, (c1.ru_utime - c0.ru_utime) + (c1.ru_stime - c0.ru_stime)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model")
    ap.add_argument("--size", type=int, default=112)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--methods", default="minmax,entropy")
    ap.add_argument("--cquant", default=os.path.join(ROOT, "build", "cquant"))
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--work", default=os.path.join(ROOT, "build", "calib_speed"))
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    model = a.model or os.path.join(a.work, f"vit_b_16_s{a.size}_op13.onnx")
    if not os.path.exists(model):
        print(f"exporting vit_b_16 at {a.size} x {a.size} to {model}", flush=True)
        export_vit(model, a.size)
    data = os.path.join(a.work, f"images_{a.size}_{a.n}")
    images(data, a.n, a.size)
    pre = ["--batch", str(a.batch), "--mean", "0.485,0.456,0.406", "--std", "0.229,0.224,0.225"]
    if a.threads:
        pre += ["--threads", str(a.threads)]
    methods = a.methods.split(",")
    times = {"fp32": [], **{m: [] for m in methods}}
    walls = {k: [] for k in times}
    cpus = {k: [] for k in times}
    load = [os.getloadavg()[0]]
    out = os.path.join(a.work, "q.onnx")
    for rnd in range(a.repeat):
        o, w, c = run([a.cquant, "eval", model, "--data", data, "--exec", "float", *pre])
        times["fp32"].append(float(re.search(r"([0-9.]+) us per sample", o).group(1)))
        walls["fp32"].append(w)
        cpus["fp32"].append(c)
        for m in methods:
            o, w, c = run([a.cquant, "ptq", model, "--calib", data, "--act-method", m, "-o", out, *pre])
            n = int(re.search(r"calibrated on (\d+) samples", o).group(1))
            if n != a.n:
                sys.exit(f"calibrated on {n} samples, not {a.n}")
            times[m].append(float(re.search(r"\(([0-9.]+) us per sample\)", o).group(1)))
            walls[m].append(w)
            cpus[m].append(c)
        load.append(os.getloadavg()[0])
        print(f"round {rnd + 1}: " + ", ".join(f"{k} {v[-1]:.0f} us/sample" for k, v in times.items()), flush=True)
    fp = statistics.median(times["fp32"])
    print(f"\n{os.path.basename(model)}, {a.n} images of {a.size} x {a.size} (PNG folder), batches of {a.batch}, "
          f"medians of {a.repeat} alternating rounds; 1-minute load {min(load):.1f}-{max(load):.1f} on {os.cpu_count()} cores")
    fc = statistics.median(cpus["fp32"])
    print("| pass | loop us per sample (median) | runs | vs one fp32 pass | process CPU s (median) | CPU vs fp32 | process wall s |")
    print("| --- | ---: | --- | ---: | ---: | ---: | ---: |")
    print(f"| fp32 (`cquant eval --exec float`) | {fp:.0f} | {', '.join(f'{v:.0f}' for v in times['fp32'])} | 1.00x | {fc:.1f} | 1.00x | "
          f"{statistics.median(walls['fp32']):.1f} |")
    worst = 0.0
    for m in methods:
        c, cc = statistics.median(times[m]), statistics.median(cpus[m])
        worst = max(worst, c / fp)
        print(f"| calibration, {m} (`cquant ptq --act-method {m}`) | {c:.0f} | {', '.join(f'{v:.0f}' for v in times[m])} | {c / fp:.2f}x | "
              f"{cc:.1f} | {cc / fc:.2f}x | {statistics.median(walls[m]):.1f} |")
    print("(loop: the wall time of the pass over the data each command prints; process CPU: user + system time of the whole\n"
          "command, model loading and, for ptq, weight quantization and writing the file included)")
    print(f"\nworst ratio {worst:.2f}x (goal: at most 2x)")
    return 0 if worst <= 2.0 else 1


if __name__ == "__main__":
    sys.exit(main())
