#!/usr/bin/python3
"""The cost of `--max-drop` on a model of 50+ quantized layers (issue 11, "Speed": at most L + 10
evaluations on a model with L quantized layers; docs/calibration.md eq. F1-F3).

The model: the zoo's resnet50 (or --zoo NAME: torchvision, random weights made realistic by
tools/zoo/gen_zoo.py), exported here at --size 112 (by default; 224 takes 4x longer and changes
nothing in the count). Random
weights mean no real labels: the evaluation labels are the float model's own predictions
(argmax of `cquant.run(..., exec="float")`) on --n-eval N(0, 1) inputs, so that top-1 is the
agreement with the float model and fp32 scores 100%. Calibration: --n-calib other N(0, 1) inputs.
`cquant.ptq(..., eval=[(x, labels)], max_drop=P)` with --weights (int4 by default, so that the start
misses the budget) reports the evaluations its fallback made; printed with L, the layers kept in float
and the drop. Exit status 1 when the count exceeds L + 10.

usage: maxdrop_evals.py [--model M.onnx | --zoo resnet50] [--size 112] [--n-eval 100] [--n-calib 32] [--weights int4]
                        [--max-drop 2] [--work DIR]
"""
import argparse
import os
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", help="an ONNX file with one image input named 'input' (default: --zoo NAME exported here)")
    ap.add_argument("--zoo", default="resnet50", help="the zoo model to export (default resnet50; mobilenet_v2 is cheaper)")
    ap.add_argument("--size", type=int, default=112)
    ap.add_argument("--n-eval", type=int, default=100)
    ap.add_argument("--n-calib", type=int, default=32)
    ap.add_argument("--weights", default="int4")
    ap.add_argument("--max-drop", type=float, default=2.0)
    ap.add_argument("--work", default=os.path.join(ROOT, "build", "maxdrop"))
    a = ap.parse_args()
    sys.path.insert(0, os.path.join(ROOT, "build", "python"))
    import cquant
    os.makedirs(a.work, exist_ok=True)
    model = a.model
    if not model:
        work = os.path.join(a.work, f"s{a.size}")
        model = os.path.join(work, f"{a.zoo}_op13.onnx")
        if not os.path.exists(model):
            print(f"exporting {a.zoo} at {a.size} x {a.size} to {work}", flush=True)
            subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "tools", "zoo", "gen_zoo.py"), work, "--models", a.zoo, "--opsets", "13",
                            "--size", str(a.size)], check=True, stdout=subprocess.DEVNULL)
    size = a.size
    rng = np.random.default_rng(3)
    xe = rng.standard_normal((a.n_eval, 3, size, size)).astype(np.float32)
    xc = rng.standard_normal((a.n_calib, 3, size, size)).astype(np.float32)
    bs = 25
    labels = np.concatenate([next(iter(cquant.run(model, {"input": xe[i:i + bs]}, exec="float").values())).argmax(1)
                             for i in range(0, a.n_eval, bs)]).astype(np.int64)
    ev = [(xe[i:i + bs], labels[i:i + bs]) for i in range(0, a.n_eval, bs)]
    cal = [xc[i:i + bs] for i in range(0, a.n_calib, bs)]
    q = os.path.join(a.work, "q.onnx")
    start = cquant.ptq(model, cal, q, weights=a.weights, weight_range="minmax", eval=ev)["top1"]  # before any fallback
    t = time.time()
    rep = cquant.ptq(model, cal, q, weights=a.weights, weight_range="minmax", eval=ev, max_drop=a.max_drop)
    t = time.time() - t
    L = len(rep["layers"])
    fb = rep.get("fallback")
    top1 = rep["top1"]
    print(f"{os.path.basename(model)} at {size} x {size}: L = {L} quantized layers ({', '.join(sorted({l['op'] for l in rep['layers']}))}); "
          f"{a.weights} weights, labels = the float model's argmax on {a.n_eval} inputs, calibration on {a.n_calib}; "
          f"float top-1 {start['float']:.2f}%, integer {start['integer']:.2f}% before the fallback")
    if not fb:
        print(f"the start already meets --max-drop {a.max_drop} (integer top-1 {top1['integer']:.2f}%): no fallback ran")
        return 0
    n = fb["evaluations"]
    print(f"--max-drop {a.max_drop}: {n} evaluations (L + 10 = {L + 10}), {len(fb['float_layers'])} layers kept in float, "
          f"budget met: {fb['met']}; integer top-1 (agreement with fp32) {top1['integer']:.2f}%, fake-quant {top1['fake_quant']:.2f}%; "
          f"{t:.0f} s in all")
    fl = fb["float_layers"]
    print("layers kept in float (sensitivity order): " + ", ".join(fl[:8]) + (f", ... ({len(fl) - 8} more)" if len(fl) > 8 else ""))
    return 0 if n <= L + 10 else 1


if __name__ == "__main__":
    sys.exit(main())
