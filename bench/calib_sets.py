#!/usr/bin/python3
"""Issue 11's ViT row over several calibration sets: cquant ptq (int8 static, one --act-method) and
PyTorch 1.13 FX post-training static quantization (ptq_models_bench.fx_prepared, the table's
configuration) calibrated on the same images, top-1 on the 10,000 Fashion-MNIST test images
(cquant's file in cquant's integer runtime). Set k is training images [k N, (k + 1) N); set 0 is
the calibration set of ptq_models_bench.py. One set decides a difference of a few images either
way; the mean over sets is the comparison this prints.

usage: /usr/bin/python3 bench/vit_calib_sets.py [--cquant build/cquant] [--model models/fmnist_vit_op17.onnx]
         [--sets 5] [--n 2000] [--method minmax]
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "models"))
import train_issue11 as ti  # noqa: E402
sys.path.insert(0, os.path.join(ROOT, "bench"))
import ptq_models_bench as pmb  # noqa: E402  (the FX configuration of issue 11's table)


def top1(logits, y):
    return 100.0 * float(np.mean(np.argmax(logits, 1) == y))


def cquant_top1(cq, model, calib, test_x, test_y, method, tmp):
    q = os.path.join(tmp, "q.onnx")
    r = subprocess.run([cq, "ptq", model, "--calib", calib, "--act-method", method, "-o", q], capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"cquant ptq failed: {r.stderr.strip().splitlines()[-1]}")
    od = os.path.join(tmp, "out")
    r = subprocess.run([cq, "run", q, "--input", f"input={test_x}", "--output-dir", od, "--exec", "int"], capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"cquant run failed: {r.stderr.strip().splitlines()[-1]}")
    return top1(np.load(os.path.join(od, "logits.npy")), test_y)


def fx_top1(cal, xte, yte):
    from torch.ao.quantization.quantize_fx import convert_fx
    net = ti.MODELS["fmnist_vit"]()
    net.load_state_dict(torch.load(os.path.join(ROOT, "models", "fmnist_vit.pt")))
    net.eval()
    qnet = convert_fx(pmb.fx_prepared(net, [cal]))
    with torch.no_grad():
        out = np.concatenate([qnet(xte[i:i + 500]).numpy() for i in range(0, len(xte), 500)])
    return top1(out, yte.numpy())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cquant", default=os.path.join(ROOT, "build", "cquant"))
    ap.add_argument("--model", default=os.path.join(ROOT, "models", "fmnist_vit_op17.onnx"))
    ap.add_argument("--sets", type=int, default=5)
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--method", default="minmax")
    a = ap.parse_args()
    torch.set_num_threads(2)
    xtr, _, xte, yte = ti.fmnist_arrays()
    tmp = tempfile.mkdtemp(prefix="cquant_vitsets.")
    test_x = os.path.join(tmp, "test_x.npy")
    np.save(test_x, xte.numpy())
    rows = []
    print(f"| calibration set (training images) | cquant int8 static ({a.method}) | PyTorch FX static (onednn) |")
    print("|---|---:|---:|")
    for k in range(a.sets):
        cal = xtr[k * a.n:(k + 1) * a.n]
        calib = os.path.join(tmp, f"calib_{k}.npy")
        np.save(calib, cal.numpy())
        c = cquant_top1(a.cquant, a.model, calib, test_x, yte.numpy(), a.method, tmp)
        f = fx_top1(cal, xte, yte)
        rows.append((c, f))
        print(f"| {k * a.n}-{(k + 1) * a.n - 1} | {c:.2f} | {f:.2f} |", flush=True)
    c, f = np.mean(rows, 0)
    print(f"| mean | {c:.3f} | {f:.3f} |")


if __name__ == "__main__":
    main()
