#!/usr/bin/python3
"""int8 PTQ of the torchvision zoo (models exported by tools/zoo/gen_zoo.py): for each model,
`cquant ptq` (QDQ, minmax, int8 weights per channel) calibrated on CALIB random samples shaped like
the model's input (seeded by its name; random weights: the figure is the output SQNR against fp32, not an accuracy);
the output SQNR cquant's report prints for its integer execution on EVAL other samples; ONNX Runtime
running the written file (its output SQNR against ORT fp32 on the same samples); and how many
QuantizeLinear nodes the file has. Detection models take one image without a batch axis: they are
calibrated with batches of 1 and only their convolutional backbone and heads quantize (index
arithmetic, NMS and the If/Loop bodies stay float).

usage: bench/zoo_ptq.py [--cquant build/cquant] [--zoo build-zoo/zoo] [--opset 13] [--models a,b]
                        [--categories classification,segmentation,unet,detection] [--calib 8] [--eval 4]
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
import zlib

import numpy as np
import onnx

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools", "zoo"))
import zoo_common as zc  # noqa: E402


def sqnr(ref, test):
    ref, test = ref.astype(np.float64), test.astype(np.float64)
    noise = float(np.sum((ref - test) ** 2))
    return float("inf") if noise == 0 else 10 * np.log10(float(np.sum(ref * ref)) / noise)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cquant", default=os.path.join(ROOT, "build", "cquant"))
    ap.add_argument("--zoo", default=os.path.join(ROOT, "build-zoo", "zoo"))
    ap.add_argument("--opset", type=int, default=13)
    ap.add_argument("--models", default="")
    ap.add_argument("--categories", default="classification,segmentation,unet,detection")
    ap.add_argument("--calib", type=int, default=8)
    ap.add_argument("--eval", type=int, default=4)
    a = ap.parse_args()
    folder, entries = zc.load_manifest(a.zoo)
    cats = a.categories.split(",")
    want = a.models.split(",") if a.models else None
    tmp = tempfile.mkdtemp(prefix="cquant_zoo_ptq.")
    print("| model | category | layers | QuantizeLinear | cquant int8 SQNR dB (integer exec) | ORT runs the file | ORT SQNR dB vs ORT fp32 | ptq s |")
    print("|---|---|---:|---:|---:|---|---:|---:|")
    for e in entries:
        if e.get("opset") != a.opset or e.get("variant", "fp32") != "fp32" or e.get("status") != "ok" or e["category"] not in cats:
            continue
        if want and e["name"] not in want:
            continue
        if len(e["inputs"]) != 1:
            continue
        (iname, ifile), = e["inputs"].items()
        x = np.load(os.path.join(folder, ifile))
        det = e["category"] == "detection"
        sample = x.shape if det else x.shape[1:]
        # inputs like the exporter's: its sample's mean and spread
        mu, sd = float(x.mean()), float(x.std()) or 1.0
        rng = np.random.default_rng(zlib.crc32(e["name"].encode()))  # the samples depend on the model alone, not on the list
        calib = (rng.standard_normal((a.calib,) + sample) * sd + mu).astype(np.float32)
        ev = (rng.standard_normal((a.eval,) + sample) * sd + mu).astype(np.float32)
        if det:
            calib, ev = np.clip(calib, 0, 1), np.clip(ev, 0, 1)
        cf, ef = os.path.join(tmp, "calib.npy"), os.path.join(tmp, "eval.npy")
        np.save(cf, calib)
        np.save(ef, ev)
        out = os.path.join(tmp, e["name"] + "_q.onnx")
        cmd = [a.cquant, "ptq", os.path.join(folder, e["file"]), "--calib", cf, "-o", out, "--batch", "1" if det else "4"]
        if not det:
            cmd += ["--eval", ef]
        t0 = time.perf_counter()
        r = subprocess.run(cmd, capture_output=True, text=True)
        secs = time.perf_counter() - t0
        if r.returncode:
            print(f"| {e['name']} | {e['category']} | - | - | error: {r.stderr.strip()[:120]} | | | {secs:.1f} |", flush=True)
            continue
        layers = re.search(r"(\d+) quantizable layers", r.stdout)
        cq = re.search(r"^integer minmax\s+([-0-9.inf]+) dB", r.stdout, re.M)
        nq = sum(n.op_type == "QuantizeLinear" for n in onnx.load(out, load_external_data=False).graph.node)
        # ORT: fp32 and the QDQ file on the evaluation samples (detection: one image)
        sq, ran = [], True
        for i in range(1 if det else a.eval):
            xi = ev[i] if det else ev[i:i + 1]
            np.save(os.path.join(tmp, "xi.npy"), xi)
            outs = []
            for mfile in (os.path.join(folder, e["file"]), out):
                od = tempfile.mkdtemp(dir=tmp)
                ro = subprocess.run(["node", zc.ORT_JS, mfile, od, f"{iname}={os.path.join(tmp, 'xi.npy')}"], capture_output=True, text=True)
                if ro.returncode:
                    ran = False
                    break
                outs.append(zc.load_dir(od))
            if not ran:
                break
            ref, q = outs
            for k in ref:
                if ref[k].dtype == np.float32 and ref[k].shape == q[k].shape and not det:
                    sq.append((ref[k], q[k]))
        osq = "-"
        if sq:
            osq = f"{sqnr(np.concatenate([s[0].ravel() for s in sq]), np.concatenate([s[1].ravel() for s in sq])):.1f}"
        print(f"| {e['name']} | {e['category']} | {layers.group(1) if layers else '?'} | {nq} | {cq.group(1) if cq else '-'} | "
              f"{'yes' if ran else 'NO'} | {osq} | {secs:.1f} |", flush=True)


if __name__ == "__main__":
    main()
