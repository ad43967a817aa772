#!/usr/bin/python3
"""Whole-model PTQ benchmark on the two shipped Fashion-MNIST models, everything in one run:

  1. accuracy: fp32, int8 PTQ with each calibration method (cquant's integer runtime), int4
     weights, ONNX Runtime running cquant's int8 file, and PyTorch 1.13's own post-training static
     quantization (FX graph mode, onednn backend) of the same network and calibration images;
  2. speed: cquant integer vs cquant fp32 vs ONNX Runtime fp32 and int8 on the same files, batch 1
     and batch 64, 1 and 2 threads (medians of 3 runs);
  3. calibration cost: a calibration pass over 10,000 training images vs one fp32 inference pass
     over the same images.

usage: /usr/bin/python3 bench/ptq_bench.py [PATH/TO/cquant] (scripts/bench runs it with
OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset, so OpenBLAS runs its best kernel)
"""
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
import torch
from onnx import numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CQ = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "cquant")
sys.path.insert(0, os.path.join(ROOT, "models"))
import train  # noqa: E402  (the model definitions and the data reader)

CAL = 2000
tmp = tempfile.mkdtemp(prefix="cquant_bench.")


def run(cmd, env=None):
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode:
        sys.exit(f"failed: {' '.join(cmd)}\n{r.stderr}")
    return r.stdout


def env_threads(t):
    e = dict(os.environ)
    e["OMP_NUM_THREADS"] = e["OPENBLAS_NUM_THREADS"] = str(t)
    return e


def cq_eval(model, batch, threads, n, exec_="int"):
    out = run([CQ, "eval", model, "--data", f"fashion-mnist:test:{n}", "--batch", str(batch), "--threads", str(threads), "--exec", exec_],
              env_threads(threads))
    m = re.search(r"top-1 ([0-9.]+)%.*?([0-9.]+) us per sample", out)
    return float(m.group(1)), float(m.group(2))


def ort_eval(model, batch, threads, n, extra=()):
    out = run(["node", os.path.join(ROOT, "tools/ort/eval.js"), model, "--batch", str(batch), "--threads", str(threads), "--n", str(n), *extra])
    m = re.search(r"top-1 ([0-9.]+)%.*?([0-9.]+) us per sample", out)
    return float(m.group(1)), float(m.group(2)), out


def median_us(fn):
    vals = [fn()[1] for _ in range(3)]
    return statistics.median(vals)


def torch_ptq(name):
    """PyTorch FX post-training static quantization of the same network and calibration images."""
    net = train.CNN() if name == "fmnist_cnn" else train.ResNet()
    m = onnx.load(os.path.join(ROOT, "models", name + ".onnx"))
    sd = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy()) for i in m.graph.initializer}
    missing, unexpected = net.load_state_dict(sd, strict=False)
    assert not unexpected and all(k.endswith("num_batches_tracked") for k in missing), (missing, unexpected)
    net.eval()
    xtr, _ = train.load("train")
    xte, yte = train.load("test")
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx
    torch.backends.quantized.engine = "onednn"
    prepared = prepare_fx(net, get_default_qconfig_mapping("onednn"), (xtr[:1],))
    with torch.no_grad():
        for i in range(0, CAL, 100):
            prepared(xtr[i:i + 100])
    q = convert_fx(prepared)
    correct = 0
    with torch.no_grad():
        for i in range(0, len(xte), 500):
            correct += (q(xte[i:i + 500]).argmax(1) == yte[i:i + 500]).sum().item()
    torch.set_num_threads(2)
    with torch.no_grad():
        t = []
        for _ in range(3):
            t0 = time.perf_counter()
            for i in range(0, 2048, 64):
                q(xte[i:i + 64])
            t.append((time.perf_counter() - t0) / 2048 * 1e6)
    return 100.0 * correct / len(xte), statistics.median(t)


def main():
    lines = []
    print(f"cquant PTQ benchmark, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores; torch {torch.__version__}")
    for name in ("fmnist_cnn", "fmnist_resnet"):
        model = os.path.join(ROOT, "models", name + ".onnx")
        qdq = os.path.join(tmp, name + "_int8.onnx")
        out = run([CQ, "ptq", model, "--calib", f"fashion-mnist:train:{CAL}", "--eval", "fashion-mnist:test", "--act-method", "all", "-o", qdq])
        fp32 = float(re.search(r"float32 \(cquant\)\s+([0-9.]+)%", out).group(1))
        per = {m: float(v) for m, v in re.findall(r"integer (\w+)\s+([0-9.]+)%", out)}
        best = re.search(r"best: (\w+)", out).group(1)
        q4 = os.path.join(tmp, name + "_int4.onnx")
        out4 = run([CQ, "ptq", model, "--calib", f"fashion-mnist:train:{CAL}", "--eval", "fashion-mnist:test", "--act-method", best, "--weights",
                    "int4", "-o", q4])
        int4 = float(re.search(r"integer \w+\s+([0-9.]+)%", out4).group(1))
        pred = os.path.join(tmp, name + ".bin")
        run([CQ, "eval", qdq, "--data", "fashion-mnist:test", "--exec", "int", "--predictions", pred])
        ort_acc, _, ort_out = ort_eval(qdq, 100, 1, 10000, ("--compare", pred))
        agree = float(re.search(r"same class as .*: ([0-9.]+)%", ort_out).group(1))
        t_acc, t_us = torch_ptq(name)
        print(f"\n#### {name}: top-1 on the 10,000 test images (calibration: {CAL} training images)")
        print("| execution | top-1 % | vs fp32 (points) |\n| --- | ---: | ---: |")
        print(f"| fp32 (cquant; ONNX Runtime gives the same) | {fp32:.2f} | |")
        for m_, v in per.items():
            print(f"| int8 PTQ, {m_} activations, cquant integer runtime | {v:.2f} | {v - fp32:+.2f} |")
        print(f"| int8 ({best}) in ONNX Runtime 1.20 (the same QDQ file) | {ort_acc:.2f} | {ort_acc - fp32:+.2f} |")
        print(f"| int4 weights per channel (MSE range) + int8 activations ({best}) | {int4:.2f} | {int4 - fp32:+.2f} |")
        print(f"| PyTorch 1.13 FX PTQ (onednn, default qconfig, same {CAL} images) | {t_acc:.2f} | {t_acc - fp32:+.2f} |")
        print(f"\nONNX Runtime and cquant's integer runtime predict the same class for {agree:.2f}% of the test images.")
        print(f"\n#### {name}: latency per image (us, median of 3; 10,000 images at batch 64, 2,000 at batch 1)")
        print("| batch | threads | cquant int8 | cquant fp32 | ORT fp32 | ORT int8 | PyTorch int8 | int8 vs own fp32 | vs ORT int8 |")
        print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for batch, n in ((64, 10000), (1, 2000)):
            for th in (1, 2):
                ci = median_us(lambda: cq_eval(qdq, batch, th, n))
                cf = median_us(lambda: cq_eval(model, batch, th, n, "float"))
                of = median_us(lambda: ort_eval(model, batch, th, n))
                oi = median_us(lambda: ort_eval(qdq, batch, th, n))
                tq = f"{t_us:.1f}" if batch == 64 and th == 2 else ""
                print(f"| {batch} | {th} | {ci:.1f} | {cf:.1f} | {of:.1f} | {oi:.1f} | {tq} | {cf / ci:.2f}x | {ci / oi:.2f}x slower |"
                      if ci > oi else f"| {batch} | {th} | {ci:.1f} | {cf:.1f} | {of:.1f} | {oi:.1f} | {tq} | {cf / ci:.2f}x | {oi / ci:.2f}x faster |")
        # calibration cost over 10,000 training images vs one fp32 pass over them (2 threads)
        cal_line = []
        for method in ("minmax", "entropy"):
            outc = run([CQ, "ptq", model, "--calib", "fashion-mnist:train:10000", "--act-method", method, "-o", os.path.join(tmp, "c.onnx")])
            cal_us = float(re.search(r"\(([0-9.]+) us per sample\)", outc).group(1))
            cal_line.append((method, cal_us))
        fp = median_us(lambda: (0, float(re.search(r"([0-9.]+) us per sample", run([CQ, "eval", model, "--data", "fashion-mnist:train:10000",
                                                                                        "--exec", "float"])).group(1))))
        print(f"\n#### {name}: calibration over 10,000 training images vs one fp32 pass over them (2 threads, batches of 100)")
        print("| method | calibration us/image | fp32 pass us/image | ratio |\n| --- | ---: | ---: | ---: |")
        for method, c in cal_line:
            print(f"| {method} | {c:.1f} | {fp:.1f} | {c / fp:.2f}x |")
    ob = subprocess.run(["/usr/bin/python3", "-c", "import ctypes,ctypes.util;l=ctypes.CDLL(ctypes.util.find_library('openblas'));"
                         "l.openblas_get_corename.restype=ctypes.c_char_p;print(l.openblas_get_corename().decode())"], capture_output=True, text=True)
    print(f"\nOpenBLAS core: {ob.stdout.strip() or 'unknown'} (OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', 'unset')})")


if __name__ == "__main__":
    main()
